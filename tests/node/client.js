#!/usr/bin/env node
// Polyglot client test: drives a *fresh* authzd server (no setup done yet) through
// the generated-at-runtime Node.js stubs, to prove that a non-Python client can use
// the authzd.v1 contract as written in the protos (SPEC §5).
//
// Usage: node client.js HOST:PORT
// Prints one line per step; exits 0 when every step passes, 1 on the first failure
// (assertion, wrong status code, or connection problem), 2 on bad usage.
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_ROOT = path.resolve(__dirname, '..', '..', 'protos');
const PROTO_FILES = [
  'authzd/v1/setup_service.proto',
  'authzd/v1/bucket_service.proto',
  'authzd/v1/authorization_service.proto',
  'authzd/v1/access_service.proto',
];
const DEADLINE_MS = 10_000;
const ID_RE = /^[0-9a-f]{16}$/;
const API_TOKEN_RE = /^azt_[0-9A-Za-z]{49}$/;

function loadApi() {
  const definition = protoLoader.loadSync(PROTO_FILES, {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    enums: String,
    longs: String,
    defaults: true,
  });
  return grpc.loadPackageDefinition(definition).authzd.v1;
}

// Promise wrapper around a unary call, with a deadline on every call.
function call(client, method, request, metadata = new grpc.Metadata()) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + DEADLINE_MS }, (err, response) =>
      err ? reject(err) : resolve(response),
    );
  });
}

function tokenMetadata(token) {
  const md = new grpc.Metadata();
  md.set('authorization', `Token ${token}`);
  return md;
}

function codeName(code) {
  return Object.keys(grpc.status).find((k) => grpc.status[k] === code) ?? String(code);
}

// Asserts that the call fails with `code` (and, if given, the exact status message).
async function expectStatus(promise, code, details) {
  let response;
  try {
    response = await promise;
  } catch (err) {
    if (err.code === undefined) throw err;
    assert.equal(
      err.code,
      code,
      `expected ${codeName(code)} (${code}), got ${codeName(err.code)} (${err.code}): ${err.details}`,
    );
    if (details !== undefined) assert.equal(err.details, details, 'status message');
    return err;
  }
  assert.fail(`expected ${codeName(code)} (${code}), got OK: ${JSON.stringify(response)}`);
}

function assertApiToken(token, what) {
  assert.equal(typeof token, 'string', `${what}: token must be a string`);
  assert.ok(token.startsWith('azt_'), `${what}: token must start with azt_`);
  assert.equal(token.length, 53, `${what}: token length`);
  assert.match(token, API_TOKEN_RE, `${what}: token must be azt_ + 49 base62 characters`);
}

// The identifying part of a permission. Resource.name and Resource.org are output
// only, so the server may fill them in a matched_permission; they are not compared.
function permissionKey(p) {
  assert.ok(p && p.resource, `not a permission: ${JSON.stringify(p)}`);
  return {
    action: p.action,
    resource: { type: p.resource.type, org_id: p.resource.org_id, id: p.resource.id },
  };
}

async function run(target) {
  const api = loadApi();
  const creds = grpc.credentials.createInsecure();
  const clients = {
    setup: new api.SetupService(target, creds),
    bucket: new api.BucketService(target, creds),
    auth: new api.AuthorizationService(target, creds),
    access: new api.AccessService(target, creds),
  };
  let stepName = 'connect';
  const step = async (name, fn) => {
    stepName = name;
    const summary = await fn();
    console.log(`ok   ${name}${summary ? ': ' + summary : ''}`);
  };

  try {
    // 1. A fresh server allows setup.
    await step('1 SetupService.GetSetupStatus', async () => {
      const res = await call(clients.setup, 'GetSetupStatus', {});
      assert.equal(res.allowed, true, 'setup must be allowed on a fresh server (is the database empty?)');
      return 'allowed=true';
    });

    // 2. Setup returns the Operator token and its 46 permissions.
    let operatorToken, orgId, userId, setupBucketId;
    await step('2 SetupService.Setup', async () => {
      const res = await call(clients.setup, 'Setup', {
        username: 'node-admin',
        password: 'node-password-1',
        org: 'node-org',
        bucket: 'node-bucket',
      });
      assertApiToken(res.token, 'Setup');
      assert.equal(res.authorization.permissions.length, 46, 'Operator permission count');
      assert.match(res.organization.id, ID_RE, 'organization.id');
      assert.match(res.user.id, ID_RE, 'user.id');
      assert.match(res.bucket.id, ID_RE, 'bucket.id');
      assert.equal(res.organization.name, 'node-org');
      assert.equal(res.user.name, 'node-admin');
      assert.equal(res.bucket.name, 'node-bucket');
      assert.equal(res.bucket.org_id, res.organization.id, 'bucket.org_id');
      assert.equal(res.authorization.org_id, res.organization.id, 'authorization.org_id');
      assert.equal(res.authorization.user_id, res.user.id, 'authorization.user_id');
      assert.equal(res.authorization.description, "node-admin's Token", 'authorization.description');
      assert.equal(res.authorization.token_hint, res.token.slice(0, 8), 'token_hint is the first 8 characters');
      operatorToken = res.token;
      orgId = res.organization.id;
      userId = res.user.id;
      setupBucketId = res.bucket.id;
      return `org=${orgId} bucket=${setupBucketId} permissions=46`;
    });

    // 3. The Operator token may create a bucket.
    let bucketId;
    await step('3 BucketService.CreateBucket', async () => {
      const res = await call(
        clients.bucket,
        'CreateBucket',
        { org_id: orgId, name: 'node-b2' },
        tokenMetadata(operatorToken),
      );
      assert.match(res.bucket.id, ID_RE, 'bucket.id');
      assert.notEqual(res.bucket.id, setupBucketId, 'new bucket id differs from the setup bucket');
      assert.equal(res.bucket.org_id, orgId, 'bucket.org_id');
      assert.equal(res.bucket.name, 'node-b2', 'bucket.name');
      bucketId = res.bucket.id;
      return `bucket=${bucketId}`;
    });

    // 4. ... and a Read/Write token on that bucket.
    const resource = { type: 'RESOURCE_TYPE_BUCKETS', org_id: orgId, id: bucketId };
    const readPermission = { action: 'ACTION_READ', resource };
    const writePermission = { action: 'ACTION_WRITE', resource };
    let rwToken, rwId;
    await step('4 AuthorizationService.CreateAuthorization', async () => {
      const res = await call(
        clients.auth,
        'CreateAuthorization',
        { org_id: orgId, description: 'node rw', permissions: [readPermission, writePermission] },
        tokenMetadata(operatorToken),
      );
      assertApiToken(res.token, 'CreateAuthorization');
      assert.match(res.authorization.id, ID_RE, 'authorization.id');
      assert.equal(res.authorization.org_id, orgId, 'authorization.org_id');
      assert.equal(res.authorization.user_id, userId, 'owner defaults to the caller');
      assert.equal(res.authorization.description, 'node rw');
      assert.equal(res.authorization.status, 'STATUS_ACTIVE');
      assert.deepEqual(
        res.authorization.permissions.map(permissionKey),
        [readPermission, writePermission].map(permissionKey),
        'granted permissions, in order',
      );
      rwToken = res.token;
      rwId = res.authorization.id;
      return `authorization=${rwId}`;
    });

    // 5. Decisions.
    await step('5a AccessService.CheckAccess read own bucket', async () => {
      const res = await call(clients.access, 'CheckAccess', { token: rwToken, permission: readPermission });
      assert.equal(res.allowed, true, `allowed (reason ${res.reason})`);
      assert.equal(res.reason, 'DECISION_REASON_ALLOWED');
      assert.deepEqual(permissionKey(res.matched_permission), permissionKey(readPermission), 'matched_permission');
      assert.equal(res.authorization_id, rwId, 'authorization_id');
      assert.equal(res.user_id, userId, 'user_id');
      assert.equal(res.org_id, orgId, 'org_id');
      return 'allowed';
    });
    await step('5b AccessService.CheckAccess write own bucket', async () => {
      const res = await call(clients.access, 'CheckAccess', { token: rwToken, permission: writePermission });
      assert.equal(res.allowed, true, `allowed (reason ${res.reason})`);
      assert.equal(res.reason, 'DECISION_REASON_ALLOWED');
      assert.deepEqual(permissionKey(res.matched_permission), permissionKey(writePermission), 'matched_permission');
      assert.equal(res.authorization_id, rwId, 'authorization_id');
      return 'allowed';
    });
    await step('5c AccessService.CheckAccess read other bucket', async () => {
      const res = await call(clients.access, 'CheckAccess', {
        token: rwToken,
        permission: { action: 'ACTION_READ', resource: { type: 'RESOURCE_TYPE_BUCKETS', org_id: orgId, id: setupBucketId } },
      });
      assert.equal(res.allowed, false, 'allowed');
      assert.equal(res.reason, 'DECISION_REASON_NO_MATCHING_PERMISSION');
      assert.equal(res.matched_permission, null, 'matched_permission is unset on a denial');
      assert.equal(res.authorization_id, rwId, 'authorization_id is set for a known token');
      return 'denied NO_MATCHING_PERMISSION';
    });
    await step('5d AccessService.CheckAccess unknown token', async () => {
      const res = await call(clients.access, 'CheckAccess', { token: 'azt_nope', permission: readPermission });
      assert.equal(res.allowed, false, 'allowed');
      assert.equal(res.reason, 'DECISION_REASON_TOKEN_UNKNOWN');
      assert.equal(res.authorization_id, '', 'authorization_id is empty for an unknown token');
      return 'denied TOKEN_UNKNOWN';
    });
    await step('5e AccessService.CheckAccess ACTION_UNSPECIFIED', async () => {
      await expectStatus(
        call(clients.access, 'CheckAccess', { token: rwToken, permission: { action: 'ACTION_UNSPECIFIED', resource } }),
        grpc.status.INVALID_ARGUMENT,
      );
      return 'INVALID_ARGUMENT';
    });

    // 6. Setup works only once.
    await step('6 SetupService.Setup again', async () => {
      await expectStatus(
        call(clients.setup, 'Setup', {
          username: 'node-admin-2',
          password: 'node-password-2',
          org: 'node-org-2',
          bucket: 'node-bucket-2',
        }),
        grpc.status.FAILED_PRECONDITION,
      );
      return 'FAILED_PRECONDITION';
    });

    // 7. Admin RPCs need a caller token.
    await step('7 AuthorizationService.CreateAuthorization without token', async () => {
      await expectStatus(
        call(clients.auth, 'CreateAuthorization', {
          org_id: orgId,
          description: 'no caller',
          permissions: [readPermission],
        }),
        grpc.status.UNAUTHENTICATED,
        'unauthorized access',
      );
      return 'UNAUTHENTICATED "unauthorized access"';
    });

    console.log('PASS all steps');
    return 0;
  } catch (err) {
    const detail =
      err.code !== undefined && err.details !== undefined
        ? `gRPC ${codeName(err.code)} (${err.code}): ${err.details}`
        : err.message;
    console.error(`FAIL ${stepName} [${target}]: ${detail}`);
    return 1;
  } finally {
    for (const c of Object.values(clients)) c.close();
  }
}

function main(argv) {
  if (argv.length !== 1 || !/^.+:\d+$/.test(argv[0])) {
    console.error('usage: node client.js HOST:PORT');
    return Promise.resolve(2);
  }
  return run(argv[0]);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`FAIL: ${err && err.stack ? err.stack : err}`);
    process.exitCode = 1;
  },
);
