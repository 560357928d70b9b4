/** An authorisation as the API shows it (R-AUTHZ): the Authorisations screen grants and revokes them,
 * the Search screen offers a grantee's own to name. */

export interface Authorisation {
  authorisation_id: string;
  grantee: string;
  granted_by: string;
  case_ref: string;
  investigation_level: string;
  max_lookback_days: number;
  granted_at: string;
  expires_at: string;
  reason: string;
  revoked_at: string | null;
  revoked_by: string | null;
}

export interface AuthorisationList {
  authorisations: Authorisation[];
  next_page_token: string | null;
}

/** Neither revoked nor expired at `now` (epoch milliseconds). */
export function isLive(a: Authorisation, now: number): boolean {
  return a.revoked_at === null && new Date(a.expires_at).getTime() > now;
}
