// The JSON API: one `api()` call per request, errors as `ApiError` with the
// server's code and field details, and the session token it sends.

const TOKEN_KEY = 'taskstream.token';

export const session = {
  token: localStorage.getItem(TOKEN_KEY),
  // Called when the server refuses the session's token (expired, revoked).
  onUnauthorized: () => {},
};

export function keepToken(token) {
  session.token = token;
  localStorage.setItem(TOKEN_KEY, token);
}

export function dropToken() {
  session.token = null;
  localStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    // The server's message as a sentence: "Invalid e-mail or password".
    const message = error.message || `request failed (HTTP ${status})`;
    super(message.charAt(0).toUpperCase() + message.slice(1));
    this.status = status;
    this.code = error.code;
    this.details = error.details;
  }
}

/**
 * One request; `keepalive` lets it outlive the page (sent while leaving),
 * `headers` adds some (`If-Match`).
 */
export async function api(method, path, body, { keepalive = false, headers: extra = {} } = {}) {
  const headers = { Accept: 'application/json', ...extra };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (session.token) headers.Authorization = `Bearer ${session.token}`;

  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    keepalive,
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    // An expired or revoked token ends the session. Failed logins also
    // answer 401, but they are sent without a token.
    const err = new ApiError(response.status, data);
    if (response.status === 401 && session.token) {
      err.sessionEnded = true;
      session.onUnauthorized();
    }
    throw err;
  }
  return data;
}
