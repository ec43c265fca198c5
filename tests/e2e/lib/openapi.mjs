// openapi.mjs — validating real requests and responses against the server's
// own GET /api/v1/openapi.json with ajv (JSON Schema 2020-12, as OpenAPI 3.1
// uses), so the document and the server cannot drift apart unnoticed.
//
//   const api = await loadOpenApi(srv);
//   api.responseErrors(res)          -> [] or strings: the operation, status,
//                                       media type, body and headers of a
//                                       response read by lib/api.mjs request()
//   api.requestErrors(method, path, body, contentType?) -> the same for a body sent
//   checkEveryResponse(api)          -> from now on every response read by
//                                       request() is checked; collected in
//                                       schemaViolations (assertNoSchemaViolations)
//   requiresIdentity(op)             -> whether an operation needs a credential
//                                       (every security requirement names
//                                       session, bearer or apiKey)

import assert from 'node:assert/strict';

import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

import { request, responseHooks } from './api.mjs';

const DOC_ID = 'urn:portcullis:openapi';
export const IDENTITY_SCHEMES = ['session', 'bearer', 'apiKey'];
export const PROBLEM_PREFIX = '/api/v1/problems/';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// JSON Pointer escaping (RFC 6901).
function ptr(...parts) {
  return parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

export function requiresIdentity(op) {
  const sec = op?.security;
  if (!Array.isArray(sec) || sec.length === 0) return false;
  return sec.every((req) => Object.keys(req).some((k) => IDENTITY_SCHEMES.includes(k)));
}

// [{method, path, op}] of a document.
export function operations(doc) {
  const out = [];
  for (const [p, item] of Object.entries(doc.paths ?? {})) {
    for (const [m, op] of Object.entries(item)) {
      if (HTTP_METHODS.includes(m)) out.push({ method: m.toUpperCase(), path: p, op });
    }
  }
  return out;
}

export class OpenApi {
  constructor(doc) {
    this.doc = doc;
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    this.ajv.addFormat('password', true);
    this.ajv.addSchema(doc, DOC_ID);
    this.ops = operations(doc);
    // literal paths before templated ones, so /users/me/password is not /users/{id}/...
    this.matchers = this.ops
      .map((o) => ({ ...o, re: new RegExp(`^${o.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`), literal: !o.path.includes('{') }))
      .sort((a, b) => Number(b.literal) - Number(a.literal));
    this.cache = new Map();
  }

  // The operation serving (method, path); HEAD is served by GET.
  find(method, target) {
    const p = String(target).replace(/^https?:\/\/[^/]*/, '').split('?')[0];
    const m = method === 'HEAD' ? 'GET' : method;
    return this.matchers.find((o) => o.method === m && o.re.test(p)) ?? null;
  }

  validator(pointer) {
    if (!this.cache.has(pointer)) {
      const v = this.ajv.getSchema(`${DOC_ID}#${pointer}`);
      if (!v) throw new Error(`no schema at ${pointer}`);
      this.cache.set(pointer, v);
    }
    return this.cache.get(pointer);
  }

  schemaErrors(pointer, value) {
    const v = this.validator(pointer);
    if (v(value)) return [];
    return (v.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`);
  }

  // Errors of a response to (res.method, res.target) against the document.
  responseErrors(res) {
    const what = `${res.method} ${res.target} -> ${res.status}`;
    const o = this.find(res.method, res.target);
    if (!o) {
      // no operation: the router's 404/405 or the HTTP layer's errors
      // before routing; still a Problem document of a documented type
      if (res.status < 400) return [`${what}: no operation in the document serves it`];
      let value;
      try {
        value = JSON.parse((res.body ?? Buffer.alloc(0)).toString('utf8'));
      } catch {
        return [`${what}: a problem body that is not JSON`];
      }
      return this.schemaErrors('/components/schemas/Problem', value).map((e) => `${what}: problem ${e}`);
    }
    const base = ['', 'paths', o.path, o.method.toLowerCase(), 'responses'];
    const codes = [String(res.status), `${String(res.status)[0]}XX`, 'default'];
    const code = codes.find((c) => o.op.responses?.[c]);
    if (!code) return [`${what}: status not documented for ${o.method} ${o.path}`];
    const r = o.op.responses[code];
    const errs = [];
    const body = res.body ?? Buffer.alloc(0);
    const ct = (res.headerAll('content-type')[0] ?? '').split(';')[0].trim().toLowerCase();
    const head = res.method === 'HEAD';
    if (!r.content) {
      if (body.length > 0 && !head) errs.push(`${what}: documented without a body, got ${body.length} bytes of ${ct}`);
    } else if (!head) {
      const media = Object.keys(r.content).find((k) => k.toLowerCase() === ct);
      if (!media) {
        errs.push(`${what}: Content-Type ${JSON.stringify(ct)} is not one of ${JSON.stringify(Object.keys(r.content))}`);
      } else if (r.content[media].schema) {
        const pointer = ptr(...base, code, 'content', media, 'schema');
        let value;
        if (/json$/.test(media)) {
          try {
            value = JSON.parse(body.toString('utf8'));
          } catch {
            errs.push(`${what}: body is not JSON`);
          }
        } else {
          value = body.toString('utf8');
        }
        if (value !== undefined) for (const e of this.schemaErrors(pointer, value)) errs.push(`${what}: body ${e}`);
      }
    }
    for (const [name, h] of Object.entries(r.headers ?? {})) {
      const hdr = h.$ref ? this.resolve(h.$ref) : h;
      const got = res.headerAll(name);
      if (hdr.required && got.length === 0) errs.push(`${what}: header ${name} is required`);
      const schema = hdr.schema;
      if (!schema || got.length === 0 || name.toLowerCase() === 'set-cookie') continue;
      const hpointer = h.$ref ? ptr('', ...h.$ref.slice(2).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')), 'schema') : ptr(...base, code, 'headers', name, 'schema');
      for (const v of got) {
        const value = schema.type === 'integer' && /^-?\d+$/.test(v) ? Number(v) : v;
        for (const e of this.schemaErrors(hpointer, value)) errs.push(`${what}: header ${name}: ${e}`);
      }
    }
    return errs;
  }

  // Errors of a request body (a parsed value) sent to (method, path).
  requestErrors(method, target, value, contentType = 'application/json') {
    const o = this.find(method, target);
    if (!o) return [`${method} ${target}: no operation in the document serves it`];
    const rb = o.op.requestBody;
    if (!rb) return value === undefined ? [] : [`${method} ${o.path}: the document declares no request body`];
    if (value === undefined) return rb.required ? [`${method} ${o.path}: a request body is required`] : [];
    const media = Object.keys(rb.content ?? {}).find((k) => k === contentType);
    if (!media) return [`${method} ${o.path}: request media type ${contentType} not documented`];
    return this.schemaErrors(ptr('', 'paths', o.path, o.method.toLowerCase(), 'requestBody', 'content', media, 'schema'), value).map((e) => `${method} ${o.path} request body ${e}`);
  }

  resolve(ref) {
    let node = this.doc;
    for (const part of ref.replace(/^#\//, '').split('/')) node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    return node;
  }

  // The problem types the document defines (the Problem schema's enum).
  problemTypes() {
    return this.doc.components.schemas.Problem.properties.type.enum;
  }
}

export async function loadOpenApi(srv) {
  const res = await request(srv, 'GET', '/api/v1/openapi.json');
  assert.equal(res.status, 200, `GET /api/v1/openapi.json: ${res.text}`);
  return new OpenApi(res.data);
}

// Every response read through request() from now on is checked against api;
// violations are collected (not thrown) like the invariants of api.mjs.
export const schemaViolations = [];
export function checkEveryResponse(api, { port } = {}) {
  const hook = (res, srv) => {
    if (port !== undefined && srv?.port !== port) return;
    for (const e of api.responseErrors(res)) if (!schemaViolations.includes(e)) schemaViolations.push(e);
  };
  responseHooks.push(hook);
  return () => responseHooks.splice(responseHooks.indexOf(hook), 1);
}

export function assertNoSchemaViolations() {
  assert.deepEqual(schemaViolations, [], 'responses that do not match the OpenAPI document');
}
