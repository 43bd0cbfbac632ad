// The cache's two checks, in nginx's JavaScript (njs, Debian's libnginx-mod-http-js):
//
// - `access`: a viewer's signed cookies, in CloudFront's shape. `CDN-Policy` is base64url of
//   {"resource": "/private/<prefix>*", "expires": <unix seconds>}; `CDN-Signature` is base64url
//   of HMAC-SHA256(key, the CDN-Policy text), the key shared by the broker (which signs) and the
//   cache (which verifies), read from PB_CDN_KEY. CloudFront signs with RSA; a shared HMAC key is
//   what Fastly's and Akamai's token auth use, and njs 0.7 verifies it synchronously.
//   Answers "ok" or the reason a request is refused (the 403's error code, after "cdn_").
// - `origin`: the cache's own access to the store (CloudFront's origin access control): the
//   path and query of a SigV4 presigned GET of the object, valid 60 s, signed with the store
//   credentials in PB_ORIGIN_ACCESS_KEY / PB_ORIGIN_SECRET_KEY for the nginx variables
//   $origin_host, $origin_bucket, $origin_region. One value carries the signature and its date,
//   so nothing can drift between two headers.
//
// Secrets come from the environment nginx inherits (njs reads it when the configuration loads,
// in the master process: `env NAME=value` lines, applied in the workers only, are not seen).
//
// Both run only when nginx needs them: `access` for every request to /private/, `origin` only
// when the cache misses.

const crypto = require('crypto');

function cookies(r) {
    const found = {};
    const raw = r.headersIn['Cookie'] || '';
    raw.split(';').forEach((pair) => {
        const at = pair.indexOf('=');
        if (at > 0) {
            found[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
        }
    });
    return found;
}

// Compares two strings in time that depends on their length only.
function same(a, b) {
    if (a.length !== b.length) {
        return false;
    }
    let diff = 0;
    for (let i = 0; i < a.length; i++) {
        diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
    }
    return diff === 0;
}

function access(r) {
    const c = cookies(r);
    const policy = c['CDN-Policy'];
    const signature = c['CDN-Signature'];
    if (!policy || !signature) {
        return 'missing_cookie';
    }
    const expected = crypto.createHmac('sha256', process.env.PB_CDN_KEY).update(policy).digest('base64url');
    if (!same(expected, signature)) {
        return 'bad_signature';
    }
    let p;
    try {
        p = JSON.parse(Buffer.from(policy, 'base64url').toString());
    } catch (e) {
        return 'bad_policy';
    }
    if (typeof p.resource !== 'string' || typeof p.expires !== 'number') {
        return 'bad_policy';
    }
    if (Date.now() / 1000 >= p.expires) {
        return 'expired';
    }
    const uri = r.variables.uri;
    const resource = p.resource;
    const allowed = resource.endsWith('*') ? uri.startsWith(resource.slice(0, -1)) : uri === resource;
    return allowed ? 'ok' : 'other_resource';
}

// RFC 3986 percent-encoding, as SigV4 wants it.
function encode(s) {
    return encodeURIComponent(s).replace(/[!'()*]/g, (ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase());
}

function hmac(key, text) {
    return crypto.createHmac('sha256', key).update(text).digest();
}

function origin(r) {
    const env = process.env;
    const v = r.variables;
    const region = v.origin_region;
    const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    const day = date.slice(0, 8);
    const scope = day + '/' + region + '/s3/aws4_request';
    const path = '/' + v.origin_bucket + '/' + v.object.split('/').map(encode).join('/');
    const query = [
        ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
        ['X-Amz-Credential', env.PB_ORIGIN_ACCESS_KEY + '/' + scope],
        ['X-Amz-Date', date],
        ['X-Amz-Expires', '60'],
        ['X-Amz-SignedHeaders', 'host'],
    ].map((kv) => encode(kv[0]) + '=' + encode(kv[1])).join('&');
    const canonical = ['GET', path, query, 'host:' + v.origin_host, '', 'host', 'UNSIGNED-PAYLOAD'].join('\n');
    const toSign = ['AWS4-HMAC-SHA256', date, scope, crypto.createHash('sha256').update(canonical).digest('hex')].join('\n');
    let key = hmac('AWS4' + env.PB_ORIGIN_SECRET_KEY, day);
    key = hmac(key, region);
    key = hmac(key, 's3');
    key = hmac(key, 'aws4_request');
    const signature = crypto.createHmac('sha256', key).update(toSign).digest('hex');
    return path + '?' + query + '&X-Amz-Signature=' + signature;
}

export default { access, origin };
