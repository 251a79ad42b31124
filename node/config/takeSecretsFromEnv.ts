/** Environment variables that carry secrets: the wallet key, the keystore's password, the API's admin token. */
export const SECRET_ENV = ["GRIDSPOT_PRIVATE_KEY", "GRIDSPOT_PASSWORD", "GRIDSPOT_ADMIN_TOKEN"] as const;

/** The secrets a provider keeps in memory once they are out of its environment. */
export interface TakenSecrets {
  adminToken: string | undefined;
}

/**
 * Takes the provider's secrets out of `env` (its `process.env`) once they have been read: nothing the
 * daemon starts afterwards (nvidia-smi, bubblewrap, a job) inherits them, and `process.env` no longer
 * holds them. The kernel keeps the environment the daemon was started with in
 * `/proc/<pid>/environ`; no job can read that file: jobs run as another, unprivileged uid (the
 * kernel allows it to the same uid only) in their own pid namespace (the daemon is not in their
 * /proc). Prefer a keystore file with its password typed at start over GRIDSPOT_PRIVATE_KEY.
 */
export function takeSecretsFromEnv(env: NodeJS.ProcessEnv = process.env): TakenSecrets {
  const adminToken = env.GRIDSPOT_ADMIN_TOKEN;
  for (const name of SECRET_ENV) delete env[name];
  return { adminToken };
}
