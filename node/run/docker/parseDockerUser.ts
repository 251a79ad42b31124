import { RunError } from "../errors.ts";

/** A numeric, non-root container user. */
export interface DockerUser {
  uid: number;
  gid: number;
}

/**
 * Parses the operator's `uid:gid` for job containers. Only numbers are accepted (a name would be
 * resolved in the image's own /etc/passwd, which the job's author controls), and never uid or gid 0.
 * @throws RunError on anything else.
 */
export function parseDockerUser(user: string): DockerUser {
  const match = /^(\d{1,10}):(\d{1,10})$/.exec(user);
  const uid = Number(match?.[1]);
  const gid = Number(match?.[2]);
  if (match === null || uid > 0xfffffffe || gid > 0xfffffffe) {
    throw new RunError(`docker user must be numeric "uid:gid", got ${JSON.stringify(user)}`, { user });
  }
  if (uid === 0 || gid === 0) {
    throw new RunError(`docker user ${user} is root: jobs never run as uid or gid 0`, { user });
  }
  return { uid, gid };
}
