/** Replay fixtures: recorded histories and the key ring they are sealed with. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyRingCodec, decodeHistoryJson } from '../infra/payload-codec';
import type { KeyRing } from '../infra/seal';

export const FIXTURES = join(__dirname, '..', 'tests', 'fixtures', 'histories');

/**
 * The key ring the replay fixtures are sealed with (tests/fixtures/keyring.json). A test key,
 * committed so that anyone can replay them: never one for real data.
 */
export const FIXTURE_KEYRING = join(__dirname, '..', 'tests', 'fixtures', 'keyring.json');

export const fixtureCodec = () => new KeyRingCodec(JSON.parse(readFileSync(FIXTURE_KEYRING, 'utf8')) as KeyRing);

/** A recorded history as stored (payloads sealed), from tests/fixtures/histories/{path}. */
export function storedFixture<T = unknown>(path: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, path.endsWith('.json') ? path : `${path}.json`), 'utf8')) as T;
}

/** A recorded history with its payloads opened with the fixtures' key ring. */
export function openedFixture<T = unknown>(path: string): Promise<T> {
  return decodeHistoryJson(storedFixture<T>(path), fixtureCodec());
}
