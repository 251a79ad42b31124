import { SANDBOX_HOSTNAME } from "./constants.ts";

/**
 * The sandbox's /etc/passwd, /etc/group and /etc/hosts: root and the job user only (`nobody` for
 * 65534, else `job`), its home the work dir, and localhost.
 */
export function sandboxIdentityFiles({ uid, gid, home }: { uid: number; gid: number; home: string }): {
  passwd: string;
  group: string;
  hosts: string;
} {
  const user = uid === 65534 ? "nobody" : "job";
  const group = gid === 65534 ? "nogroup" : "job";
  const safeHome = /[:\n]/.test(home) ? "/tmp" : home;
  return {
    passwd: `root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n${user}:x:${uid}:${gid}:gridspot job:${safeHome}:/bin/sh\n`,
    group: `root:x:0:\n${group}:x:${gid}:\n`,
    hosts: `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${SANDBOX_HOSTNAME}\n`,
  };
}
