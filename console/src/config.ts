/** The runtime settings served beside the assets as `config.json`: written by the CDK deployment in
 * AWS and by `nas local` on this machine, so one bundle runs against any stage. */
export interface ConsoleConfig {
  /** Base URL of the NAS API; a relative one is resolved against the page. */
  api_url: string;
  /** Where InitiateAuth and RespondToAuthChallenge are sent: the user pool's regional endpoint in
   * AWS, the local gateway's narrow proxy to moto on this machine. */
  cognito_endpoint: string;
  /** The public app client (no secret) the console signs in with. */
  app_client_id: string;
  /** Map tiles as `https://host/{z}/{x}/{y}.png`; empty draws points on a plain projection. */
  tile_url: string;
}

const FIELDS = ["api_url", "cognito_endpoint", "app_client_id", "tile_url"] as const;

export function parseConfig(value: unknown): ConsoleConfig {
  if (typeof value !== "object" || value === null) throw new Error("config.json is not an object");
  const record = value as Record<string, unknown>;
  for (const field of FIELDS) {
    if (typeof record[field] !== "string") throw new Error(`config.json: ${field} must be a string`);
  }
  const config = record as unknown as ConsoleConfig;
  if (!config.api_url || !config.cognito_endpoint || !config.app_client_id) {
    throw new Error("config.json: api_url, cognito_endpoint and app_client_id are required");
  }
  // Relative addresses (local mode's) resolve against the page, so any loopback name works.
  const api = new URL(config.api_url, document.baseURI).href;
  return {
    ...config,
    api_url: api.endsWith("/") ? api : `${api}/`,
    cognito_endpoint: new URL(config.cognito_endpoint, document.baseURI).href,
  };
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch("config.json", { cache: "no-store", credentials: "omit" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  return parseConfig(await response.json());
}
