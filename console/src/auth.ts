/** Sign-in against the Cognito user pool with the public app client (R-ACCOUNT): InitiateAuth with
 * USER_PASSWORD_AUTH, then the TOTP challenge when the pool asks for it. The ID token lives in this
 * page's memory only (never localStorage or a cookie), so closing the tab signs the user out. */

import type { ConsoleConfig } from "./config";

export const MFA_CHALLENGE = "SOFTWARE_TOKEN_MFA";

export interface Session {
  idToken: string;
  username: string;
  groups: string[];
  lea: string | null;
  /** Milliseconds since the epoch at which the token stops being accepted. */
  expiresAt: number;
}

export type SignInStep =
  | { kind: "signed-in"; session: Session }
  | { kind: "code-needed"; username: string; challengeSession: string };

export class SignInError extends Error {}

interface CognitoResponse {
  AuthenticationResult?: { IdToken?: string };
  ChallengeName?: string;
  Session?: string;
  __type?: string;
  message?: string;
}

async function cognito(config: ConsoleConfig, action: string, body: object): Promise<CognitoResponse> {
  let response: Response;
  try {
    response = await fetch(config.cognito_endpoint, {
      method: "POST",
      credentials: "omit",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
      },
      body: JSON.stringify(body),
    });
  } catch {
    throw new SignInError("The sign-in service could not be reached. Try again.");
  }
  const text = await response.text();
  let parsed: CognitoResponse = {};
  try {
    parsed = text ? (JSON.parse(text) as CognitoResponse) : {};
  } catch {
    parsed = {};
  }
  if (!response.ok) {
    // Cognito's own words ("Incorrect username or password.", "Invalid code received for user").
    throw new SignInError(parsed.message || `Sign-in failed (HTTP ${response.status}).`);
  }
  return parsed;
}

function step(response: CognitoResponse, username: string): SignInStep {
  const token = response.AuthenticationResult?.IdToken;
  if (token) return { kind: "signed-in", session: sessionFromToken(token) };
  if (response.ChallengeName === MFA_CHALLENGE && response.Session) {
    return { kind: "code-needed", username, challengeSession: response.Session };
  }
  throw new SignInError(
    `The user pool asks for ${response.ChallengeName ?? "an unknown step"}, which the console cannot` +
      " answer: ask your account administrator.",
  );
}

export async function signIn(config: ConsoleConfig, username: string, password: string): Promise<SignInStep> {
  const response = await cognito(config, "InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    ClientId: config.app_client_id,
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  return step(response, username);
}

export async function answerCode(
  config: ConsoleConfig,
  username: string,
  challengeSession: string,
  code: string,
): Promise<SignInStep> {
  const response = await cognito(config, "RespondToAuthChallenge", {
    ClientId: config.app_client_id,
    ChallengeName: MFA_CHALLENGE,
    Session: challengeSession,
    ChallengeResponses: { USERNAME: username, SOFTWARE_TOKEN_MFA_CODE: code },
  });
  return step(response, username);
}

function base64UrlDecode(part: string): string {
  const padded = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The claims the console needs, read from the token without verifying it: the API verifies every
 * request, so the claims only decide what to show, never what is allowed. */
export function sessionFromToken(idToken: string): Session {
  const parts = idToken.split(".");
  if (parts.length !== 3) throw new SignInError("The user pool returned a malformed token.");
  const claims = JSON.parse(base64UrlDecode(parts[1] ?? "")) as Record<string, unknown>;
  const groups = claims["cognito:groups"];
  const exp = claims["exp"];
  if (typeof exp !== "number") throw new SignInError("The user pool returned a token without expiry.");
  return {
    idToken,
    username: String(claims["cognito:username"] ?? claims["sub"] ?? ""),
    groups: Array.isArray(groups) ? groups.map(String) : [],
    lea: typeof claims["custom:lea"] === "string" ? (claims["custom:lea"] as string) : null,
    expiresAt: exp * 1000,
  };
}
