// The InfluxDB Node.js clients (@influxdata/influxdb-client + -apis, pinned in
// package.json) against authzd's HTTP API: setup, orgs, buckets, authorizations.
// Usage: node http_walk.js <http url> <result file>. Prints "PASS all steps" and
// writes the tokens it left in known states to <result file> for the caller to
// check over gRPC (tests/http/test_node_client.py).
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const {InfluxDB, HttpError} = require('@influxdata/influxdb-client');
const {
  SetupAPI, OrgsAPI, BucketsAPI, AuthorizationsAPI, MeAPI, UsersAPI, PingAPI, HealthAPI, ReadyAPI,
} = require('@influxdata/influxdb-client-apis');

async function expectStatus(promise, status, code) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof HttpError, `not an HttpError: ${e}`);
    assert.equal(e.statusCode, status);
    if (code) assert.equal(JSON.parse(e.body).code, code);
    return;
  }
  assert.fail(`expected HTTP ${status}`);
}

async function main() {
  const [url, resultFile] = process.argv.slice(2);
  const anonymous = new InfluxDB({url});

  // -- setup ---------------------------------------------------------------
  const setupApi = new SetupAPI(anonymous);
  assert.equal((await setupApi.getSetup()).allowed, true);
  const onboarded = await setupApi.postSetup({body: {
    username: 'admin', password: 'admin-password-1', org: 'acme', bucket: 'telemetry',
    retentionPeriodSeconds: 0,
  }});
  assert.equal(onboarded.user.name, 'admin');
  assert.equal(onboarded.org.name, 'acme');
  assert.equal(onboarded.bucket.name, 'telemetry');
  assert.ok(onboarded.auth.token.length > 20);
  await expectStatus(setupApi.postSetup({body: {
    username: 'x', password: 'admin-password-1', org: 'x', bucket: 'x'}}), 422, 'conflict');
  console.log('ok setup');

  const influx = new InfluxDB({url, token: onboarded.auth.token});
  await new PingAPI(influx).getPing();
  assert.equal((await new HealthAPI(influx).getHealth()).status, 'pass');
  assert.equal((await new ReadyAPI(influx).getReady()).status, 'ready');
  assert.equal((await new MeAPI(influx).getMe()).name, 'admin');

  // -- orgs ------------------------------------------------------------------
  const orgsApi = new OrgsAPI(influx);
  const org = await orgsApi.postOrgs({body: {name: 'node-org', description: 'from node'}});
  assert.equal(org.name, 'node-org');
  const listed = await orgsApi.getOrgs({org: 'node-org'});
  assert.deepEqual(listed.orgs.map((o) => o.id), [org.id]);
  assert.equal((await orgsApi.getOrgsID({orgID: org.id})).description, 'from node');
  const renamed = await orgsApi.patchOrgsID({orgID: org.id, body: {name: 'node-org-2'}});
  assert.equal(renamed.name, 'node-org-2');
  const doomedOrg = await orgsApi.postOrgs({body: {name: 'doomed'}});
  await orgsApi.deleteOrgsID({orgID: doomedOrg.id});
  await expectStatus(orgsApi.getOrgsID({orgID: doomedOrg.id}), 404, 'not found');
  await expectStatus(orgsApi.postOrgs({body: {name: 'node-org-2'}}), 422, 'conflict');
  console.log('ok orgs');

  // -- buckets ---------------------------------------------------------------
  const bucketsApi = new BucketsAPI(influx);
  const bucket = await bucketsApi.postBuckets({body: {
    orgID: org.id, name: 'node-bucket', retentionRules: [{type: 'expire', everySeconds: 3600}],
  }});
  assert.equal(bucket.name, 'node-bucket');
  assert.equal(bucket.orgID, org.id);
  assert.deepEqual((await bucketsApi.getBuckets({orgID: org.id})).buckets.map((b) => b.id),
      [bucket.id]);
  assert.deepEqual((await bucketsApi.getBuckets({name: 'node-bucket'})).buckets.map((b) => b.id),
      [bucket.id]);
  const patchedBucket = await bucketsApi.patchBucketsID({bucketID: bucket.id,
    body: {description: 'patched'}});
  assert.equal(patchedBucket.description, 'patched');
  assert.equal((await bucketsApi.getBucketsID({bucketID: bucket.id})).description, 'patched');
  const doomedBucket = await bucketsApi.postBuckets({body: {orgID: org.id, name: 'doomed',
    retentionRules: []}});
  await bucketsApi.deleteBucketsID({bucketID: doomedBucket.id});
  await expectStatus(bucketsApi.getBucketsID({bucketID: doomedBucket.id}), 404, 'not found');
  console.log('ok buckets');

  // -- authorizations ----------------------------------------------------------
  const authsApi = new AuthorizationsAPI(influx);
  const read = {action: 'read', resource: {type: 'buckets', orgID: org.id, id: bucket.id}};
  const kept = await authsApi.postAuthorizations({body: {
    orgID: org.id, description: 'kept', permissions: [read]}});
  const paused = await authsApi.postAuthorizations({body: {
    orgID: org.id, description: 'to pause', permissions: [read]}});
  const deleted = await authsApi.postAuthorizations({body: {
    orgID: org.id, description: 'to delete', permissions: [read]}});
  assert.ok(kept.token && paused.token && deleted.token);
  const all = await authsApi.getAuthorizations({orgID: org.id});
  assert.deepEqual(all.authorizations.map((a) => a.id).sort(),
      [kept.id, paused.id, deleted.id].sort());
  assert.ok(all.authorizations.every((a) => a.token === undefined));
  const byUser = await authsApi.getAuthorizations({userID: onboarded.user.id});
  assert.equal(byUser.authorizations.length, 4);
  const one = await authsApi.getAuthorizationsID({authID: kept.id});
  assert.equal(one.description, 'kept');
  assert.equal(one.token, undefined);
  assert.equal(one.permissions[0].resource.id, bucket.id);
  const p = await authsApi.patchAuthorizationsID({authID: paused.id,
    body: {status: 'inactive', description: 'paused'}});
  assert.equal(p.status, 'inactive');
  assert.equal(p.description, 'paused');
  await authsApi.deleteAuthorizationsID({authID: deleted.id});
  await expectStatus(authsApi.getAuthorizationsID({authID: deleted.id}), 404, 'not found');
  await expectStatus(authsApi.postAuthorizations({body: {
    orgID: org.id, permissions: [{action: 'read', resource: {type: 'nope'}}]}}), 400, 'invalid');
  console.log('ok authorizations');

  // -- users --------------------------------------------------------------------
  const usersApi = new UsersAPI(influx);
  const bob = await usersApi.postUsers({body: {name: 'bob', status: 'active'}});
  await usersApi.postUsersIDPassword({userID: bob.id, body: {password: 'bob-password-1'}});
  assert.deepEqual((await usersApi.getUsers({name: 'bob'})).users.map((u) => u.id), [bob.id]);
  console.log('ok users');

  await expectStatus(new MeAPI(new InfluxDB({url, token: 'azt_nope'})).getMe(), 401,
      'unauthorized');

  fs.writeFileSync(resultFile, JSON.stringify({
    orgID: org.id, bucketID: bucket.id,
    kept: kept.token, paused: paused.token, deleted: deleted.token,
  }));
  console.log('PASS all steps');
}

main().catch((e) => {
  console.error('FAIL', e && e.stack ? e.stack : e, e && e.body ? e.body : '');
  process.exit(1);
});
