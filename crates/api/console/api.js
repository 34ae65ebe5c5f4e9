// The admin API client: same-origin requests carrying the admin key as a bearer token, JSON in
// and out, and RFC 9457 problem documents turned into `ApiError`s with a readable message.

const KEY_STORAGE = 'tenantry.adminKey';

/** The admin key of this browser tab: kept in sessionStorage only, never in a URL or cookie. */
export const adminKey = {
  get: () => sessionStorage.getItem(KEY_STORAGE),
  set: (key) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

/** A failed request. `status` is 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `The server answered with status ${status}.`);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem.code ?? null;
    this.detail = problem.detail ?? null;
    this.fieldErrors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

let onUnauthorized = () => {};

/** Called when the stored key is refused (401), e.g. after the key was rotated. */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/**
 * Sends one request. `query` entries that are empty, null or undefined are left out; `key`
 * overrides the stored admin key (the sign-in screen checks a key before storing it).
 */
export async function request(method, path, { query, body, key } = {}) {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${key ?? adminKey.get()}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path + queryString(query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, { detail: 'Could not reach the server. Check the connection and try again.' });
  }
  const data = await readJson(response);
  if (response.ok) return data;
  const error = new ApiError(response.status, data ?? {});
  if (response.status === 401 && key === undefined) onUnauthorized(error);
  throw error;
}

export const api = {
  get: (path, query, options) => request('GET', path, { ...options, query }),
  post: (path, body) => request('POST', path, { body }),
  patch: (path, body) => request('PATCH', path, { body }),
  delete: (path) => request('DELETE', path),
};

/** `/admin/tenants/<id>` followed by `suffix`. */
export function tenantPath(id, suffix = '') {
  return `/admin/tenants/${encodeURIComponent(id)}${suffix}`;
}

let clusters = null;

/** The configured clusters, `[{name, default}]`; asked once, they change only with a restart. */
export function listClusters() {
  clusters ??= api.get('/admin/clusters').then(
    (list) => list.items,
    (error) => {
      clusters = null;
      throw error;
    },
  );
  return clusters;
}

function queryString(query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

async function readJson(response) {
  if (!/json/.test(response.headers.get('Content-Type') ?? '')) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}
