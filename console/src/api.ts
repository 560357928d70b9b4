/** The public API with the signed-in user's own ID token: every rule (roles, windows, reasons,
 * limits, audit) holds in the browser exactly as it does for curl. */

import type { ConsoleConfig } from "./config";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type Query = Record<string, string | number | undefined | null>;

export interface Api {
  get<T>(path: string, query?: Query): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
  put<T>(path: string, body: unknown): Promise<T>;
  delete<T>(path: string): Promise<T>;
  /** A binary GET (a read's JPEG), with the token as every call: an <img src> could not send it. */
  image(path: string, query?: Query): Promise<Blob>;
}

/** `onUnauthorized` runs when the API answers 401 (token expired, or the account was disabled):
 * the console signs out rather than showing a screen that can no longer load. */
export function createApi(config: ConsoleConfig, token: () => string, onUnauthorized: (why: string) => void): Api {
  async function call<T>(method: string, path: string, query?: Query, body?: unknown, accept?: string): Promise<T> {
    const url = new URL(path.replace(/^\//, ""), config.api_url);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { Authorization: `Bearer ${token()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    // API Gateway returns binary bodies only to a request that accepts their media type.
    if (accept) headers.Accept = accept;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        credentials: "omit",
        body: body === undefined ? null : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "unreachable", "The NAS API could not be reached. Check the connection and try again.");
    }
    if (accept && response.ok) return (await response.blob()) as T;
    const text = await response.text();
    let payload: unknown = null;
    try {
      payload = text ? JSON.parse(text) : null;
    } catch {
      payload = null;
    }
    if (!response.ok) {
      const error = (payload as { error?: { code?: string; message?: string } } | null)?.error;
      const apiError = new ApiError(
        response.status,
        error?.code ?? `http-${response.status}`,
        error?.message ?? (payload as { message?: string } | null)?.message ?? `HTTP ${response.status}`,
      );
      if (response.status === 401) onUnauthorized(apiError.message);
      throw apiError;
    }
    return payload as T;
  }
  return {
    get: (path, query) => call("GET", path, query),
    post: (path, body) => call("POST", path, undefined, body),
    put: (path, body) => call("PUT", path, undefined, body),
    delete: (path) => call("DELETE", path),
    image: (path, query) => call("GET", path, query, undefined, "image/jpeg"),
  };
}

/** PUTs a file to a presigned URL the API handed out (a VOI list into the imports bucket), reporting
 * bytes sent as they go: XMLHttpRequest, because fetch reports no upload progress. The URL carries
 * its own signature, so the user's token is never sent with it; the CSP allows only the imports
 * bucket's origin besides the API's own. */
export function uploadFile(url: string, file: Blob, onProgress: (sent: number, total: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.setRequestHeader("Content-Type", "text/csv");
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve();
      } else {
        reject(new ApiError(xhr.status, "upload-refused", `The upload was refused (HTTP ${xhr.status}).`));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "upload-failed", "The file could not be uploaded. Check the connection and try again."));
    xhr.send(file);
  });
}
