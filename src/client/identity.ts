// Who is at the keyboard: recorded as the starter of a release (approval.separate_duties reads it).
import os from 'node:os';

/** SLIPWAY_USER, else the CI's actor (GITHUB_ACTOR), else the login name. */
export function currentUser(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.SLIPWAY_USER?.trim() || env.GITHUB_ACTOR?.trim();
  if (fromEnv) return fromEnv;
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}
