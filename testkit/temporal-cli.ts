/**
 * What `temporal workflow start|execute` is given to start a delivery run as a user of the
 * Temporal CLI would (docs/TEMPORAL_CLI.md): the type, the control queue, the run's workflow id and
 * its input (a file, or JSON inline), and any further flags.
 */
export function runStartArgs(
  command: 'start' | 'execute',
  workflowId: string,
  input: { file: string } | { json: unknown },
  ...extra: string[]
): string[] {
  return [
    'workflow',
    command,
    '--type',
    'deliveryRun',
    '--task-queue',
    'ados-control',
    '--workflow-id',
    workflowId,
    ...('file' in input ? ['--input-file', input.file] : ['--input', JSON.stringify(input.json)]),
    ...extra,
  ];
}
