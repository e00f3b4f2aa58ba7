'use strict';
// Preloaded (node --require) into every sandbox process, in front of AWS's runtime interface client.
//
// The client (aws-lambda-ric, the code that loads and calls handlers in the nodejs22.x runtime) talks
// to the Lambda Runtime API through `rapid-client.node`, a C++ addon built against libcurl at install
// time. npm does not build it here (its install scripts are denied in package.json), so this file
// answers `require('./rapid-client.node')` with the same three calls made over node:http. Everything
// else (handler loading, the context object, error formatting, log patching) stays AWS's own code.
const Module = require('node:module');
const http = require('node:http');
const path = require('node:path');

const [host, port] = String(process.env.AWS_LAMBDA_RUNTIME_API).split(':');
const agent = new http.Agent({ keepAlive: true });

function request(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const sent = body === undefined ? undefined : Buffer.from(body, 'utf8');
    const req = http.request(
      { host, port: Number(port), method, path: urlPath, agent, headers: sent ? { ...headers, 'content-type': 'application/json', 'content-length': sent.length } : headers },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(sent);
  });
}

// The native calls post and return; a post that fails means the Runtime API is gone, as when Lambda
// freezes or ends the sandbox: nothing is left to do but exit.
const lost = (error) => {
  process.stderr.write(`runtime API unreachable: ${error.message}\n`);
  process.exit(1);
};

function errorType(body) {
  try {
    return String(JSON.parse(body).errorType ?? 'Error');
  } catch {
    return 'Error';
  }
}

const client = {
  async next() {
    const reply = await request('GET', '/2018-06-01/runtime/invocation/next');
    return { bodyJson: reply.body, headers: reply.headers };
  },
  done(id, body) {
    request('POST', `/2018-06-01/runtime/invocation/${id}/response`, body).catch(lost);
  },
  error(id, body, xrayCause) {
    const headers = { 'Lambda-Runtime-Function-Error-Type': errorType(body) };
    if (xrayCause) headers['Lambda-Runtime-Function-XRay-Error-Cause'] = xrayCause;
    request('POST', `/2018-06-01/runtime/invocation/${id}/error`, body, headers).catch(lost);
  },
};

const loadNative = Module._extensions['.node'];
Module._extensions['.node'] = function loadRapidClient(module, filename) {
  if (path.basename(filename) === 'rapid-client.node') {
    module.exports = client;
    return;
  }
  return loadNative.call(this, module, filename);
};
