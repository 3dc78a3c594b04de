// Drives a small front end on another origin in a real Chromium against a
// running authapi, the way a single-page app would use it:
//
//  - CORS: from the origin the service lists (http://localhost:FRONTEND_PORT)
//    the page signs up, activates the account with the code from the
//    service's log, logs in, reads /me and refreshes, and sees every answer;
//    from an origin it does not list (http://127.0.0.1:FRONTEND_PORT, the
//    same server under another name) the browser refuses the same calls.
//  - Passkeys: with a virtual authenticator (the DevTools protocol's WebAuthn
//    domain), the page runs the README's JavaScript example, taken from the
//    README at test time so that it cannot drift: it registers a passkey
//    after a password login, logs out, logs in with the passkey alone, then,
//    with TOTP turned on, uses the passkey as the second step after the
//    password; the passkey is listed, renamed and removed, after which it
//    logs in no more. Each answer and each token's amr is checked.
//
// The front end is tools/scripts/browser-e2e/, served by this script. Any
// console error, uncaught error or failed request on the listed origin's page
// fails the test; on the unlisted one, the browser's CORS refusals are the
// point and are checked instead.
//
// Environment:
//   BASE_URL       the running service, e.g. http://127.0.0.1:8080 (required);
//                  started with AUTH_CORS_ORIGINS and AUTH_WEBAUTHN_ORIGINS set
//                  to http://localhost:FRONTEND_PORT, AUTH_WEBAUTHN_RP_ID to
//                  localhost
//   FRONTEND_PORT  a free loopback port for the front end (required)
//   SERVICE_LOG    the service's stderr, where the log mailer prints the
//                  activation code (required)
//   CHROMIUM       the browser to drive (default /usr/bin/chromium)

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHmac, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.BASE_URL ?? '').replace(/\/+$/, '');
const FRONTEND_PORT = Number(process.env.FRONTEND_PORT ?? '');
const SERVICE_LOG = process.env.SERVICE_LOG ?? '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const HERE = dirname(fileURLToPath(import.meta.url));
const FRONTEND_DIR = join(HERE, 'browser-e2e');
const README = join(HERE, '..', '..', 'README.md');

// The origin authapi lists in AUTH_CORS_ORIGINS, and one it does not: the
// same server reached by another host name is another origin to a browser.
const LISTED_ORIGIN = `http://localhost:${FRONTEND_PORT}`;
const UNLISTED_ORIGIN = `http://127.0.0.1:${FRONTEND_PORT}`;

// Generous: the machine may be slow and busy, and every wait below is for a
// condition, so a long timeout costs nothing when things work.
const TIMEOUT_MS = 60_000;

// The machine has no network beyond loopback: without these flags Chromium
// keeps trying to reach Google's services and fills the log with refusals.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const PASSWORD = 'StrongPassword123!';

class CheckError extends Error {}

function fail(message) {
  throw new CheckError(message);
}

// describe gives the test's own failures as their message, and anything
// unexpected (a Playwright timeout, a bug here) with its stack.
function describe(err) {
  return err instanceof CheckError ? err.message : err.stack;
}

function step(message) {
  console.log(`browser-e2e: ${message}`);
}

// uniqueEmail gives each account its own address, so runs against the same
// database never collide with "email_taken".
function uniqueEmail(label) {
  return `e2e.${label}.${randomUUID()}@example.com`;
}

// Problems collects what the listed origin's page reports going wrong. The
// first one rejects `reported`, so a broken page fails the test at once, with
// its cause, instead of after a wait for something that will never come.
class Problems {
  list = [];
  #reject;
  reported = new Promise((_, reject) => { this.#reject = reject; });

  constructor() {
    // Nobody may be racing against it when a late problem arrives.
    this.reported.catch(() => {});
  }

  add(message) {
    this.list.push(message);
    this.#reject(new CheckError('the page reported a problem'));
  }
}

// Chromium logs every answer with an error status as a console error. The
// test expects some (403 mfa_required, a refused token) and checks each
// status itself, so these lines are no problem of the page's.
const ERROR_STATUS_LOGGED = /^Failed to load resource: the server responded with a status of \d{3}/;

// readmePasskeyExample returns the README's JavaScript example for passkeys,
// the first ```js block after the "## Passkeys" heading, with its API
// constant pointing at the service under test. Nothing else is changed: the
// test runs what a reader would paste.
function readmePasskeyExample() {
  const lines = readFileSync(README, 'utf8').split('\n');
  const heading = lines.indexOf('## Passkeys');
  if (heading < 0) fail(`${README} has no "## Passkeys" section`);
  const start = lines.indexOf('```js', heading);
  const end = start < 0 ? -1 : lines.indexOf('```', start + 1);
  if (end < 0) fail(`${README}: no complete \`\`\`js block after "## Passkeys"`);
  const block = lines.slice(start + 1, end).join('\n');
  const api = /^const API = "[^"]*";/m;
  if (!api.test(block)) fail(`${README}: the passkey example has no line starting const API = "...";`);
  return block.replace(api, `const API = ${JSON.stringify(BASE_URL)};`);
}

// serveFrontend serves the test front end on 127.0.0.1:FRONTEND_PORT, which
// answers for both origins, and at /readme-passkeys.js the README's example.
function serveFrontend(example) {
  const file = (name) => () => readFileSync(join(FRONTEND_DIR, name));
  const routes = {
    '/': ['text/html; charset=utf-8', file('index.html')],
    '/frontend.js': ['text/javascript; charset=utf-8', file('frontend.js')],
    '/readme-passkeys.js': ['text/javascript; charset=utf-8', () => example],
  };
  const server = createServer((req, res) => {
    const route = routes[new URL(req.url, 'http://frontend').pathname];
    if (req.method !== 'GET' || !route) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': route[0], 'Cache-Control': 'no-store' });
    res.end(route[1]());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(FRONTEND_PORT, '127.0.0.1', () => resolve(server));
  });
}

// activationCode waits for the code the log mailer prints for email. Email
// leaves through an outbox after signup has answered, so the line shows up a
// moment later; the log is read again until it does or the time is up.
async function activationCode(email) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const codes = readFileSync(SERVICE_LOG, 'utf8')
      .split('\n')
      .filter((line) => line.includes(email))
      .map((line) => line.match(/activation code is (\d{6})/)?.[1])
      .filter(Boolean);
    if (codes.length > 0) return codes.at(-1);
    if (Date.now() > deadline) fail(`no activation code for ${email} in ${SERVICE_LOG} after ${TIMEOUT_MS / 1000}s`);
    await delay(100);
  }
}

// call makes a request from page with the front end's apiRequest and returns
// what the page saw: status, readable headers and body, or the error.
function call(page, method, path, options) {
  return page.evaluate(([m, p, o]) => apiRequest(m, p, o), [method, path, options ?? {}]);
}

// expectAnswer makes a call from the page and checks that the browser let
// the page read an answer with wantStatus.
async function expectAnswer(page, method, path, options, wantStatus) {
  const got = await call(page, method, path, options);
  if (got.error) {
    fail(`${method} ${path} from ${LISTED_ORIGIN}: the browser refused the call (${got.error.name}: ${got.error.message}); is ${LISTED_ORIGIN} in AUTH_CORS_ORIGINS?`);
  }
  if (got.status !== wantStatus) {
    fail(`${method} ${path} from ${LISTED_ORIGIN}: got status ${got.status}, want ${wantStatus}: ${JSON.stringify(got.body).slice(0, 300)}`);
  }
  return got;
}

function expectEqual(what, got, want) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    fail(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

function expectToken(what, value) {
  if (typeof value !== 'string' || value.split('.').length !== 3) {
    fail(`${what}: got ${JSON.stringify(value)}, want a JWT`);
  }
}

// signupAndLogin makes an active account from page and logs it in,
// returning its email and the login's tokens.
async function signupAndLogin(page, label) {
  const email = uniqueEmail(label);
  const signup = await expectAnswer(page, 'POST', '/signup',
    { body: { email, password: PASSWORD, first_name: 'Browser', last_name: 'Tester' } }, 201);
  expectEqual('POST /signup: email', signup.body.email, email);
  expectEqual('POST /signup: is_active', signup.body.is_active, false);
  // X-Request-ID is exposed to scripts (Access-Control-Expose-Headers), so a
  // front end can quote it in a bug report.
  if (!signup.headers['x-request-id']) {
    fail(`POST /signup: X-Request-ID is not readable from the page; it sees only ${Object.keys(signup.headers).join(', ')}`);
  }
  step(`POST /signup from ${LISTED_ORIGIN}: 201, X-Request-ID readable`);

  const code = await activationCode(email);
  await expectAnswer(page, 'POST', '/verify', { body: { email, activation_code: code } }, 200);
  step(`POST /verify with the code from the service's log: 200`);

  const login = await expectAnswer(page, 'POST', '/login', { body: { email, password: PASSWORD } }, 200);
  expectToken('POST /login: access_token', login.body.access_token);
  expectToken('POST /login: refresh_token', login.body.refresh_token);
  expectEqual('POST /login: token_type', login.body.token_type, 'bearer');
  if (!/no-store/.test(login.headers['cache-control'] ?? '')) {
    fail(`POST /login: Cache-Control is ${JSON.stringify(login.headers['cache-control'])}, want no-store`);
  }
  step('POST /login: 200 with tokens, Cache-Control: no-store');
  return { email, tokens: login.body };
}

// checkListedOrigin goes through an account's life from the origin authapi
// lists, where every answer must reach the page.
async function checkListedOrigin(page) {
  step(`CORS: calls from ${LISTED_ORIGIN}, which AUTH_CORS_ORIGINS lists`);
  const { email, tokens } = await signupAndLogin(page, 'cors');

  const me = await expectAnswer(page, 'GET', '/me', { token: tokens.access_token }, 200);
  expectEqual('GET /me: email', me.body.email, email);
  expectEqual('GET /me: is_active', me.body.is_active, true);
  step('GET /me with the bearer token: 200, the account');

  // A refused token's answer says why in WWW-Authenticate, which is exposed
  // so that a front end can read it.
  const refused = await expectAnswer(page, 'GET', '/me', { token: 'not-a-token' }, 401);
  expectEqual('GET /me with a bad token: code', refused.body.code, 'invalid_token');
  if (!/^Bearer/.test(refused.headers['www-authenticate'] ?? '')) {
    fail(`GET /me with a bad token: WWW-Authenticate is ${JSON.stringify(refused.headers['www-authenticate'])} to the page, want a Bearer challenge`);
  }
  step('GET /me with a bad token: 401 invalid_token, WWW-Authenticate readable');

  const refreshed = await expectAnswer(page, 'POST', '/refresh', { body: { refresh_token: tokens.refresh_token } }, 200);
  expectToken('POST /refresh: access_token', refreshed.body.access_token);
  const again = await expectAnswer(page, 'GET', '/me', { token: refreshed.body.access_token }, 200);
  expectEqual('GET /me with the refreshed token: email', again.body.email, email);
  step('POST /refresh: 200, and GET /me with the new access token: 200');
  return tokens;
}

// expectRefused makes a call from the unlisted origin's page and checks that
// fetch rejected it, as browsers do when CORS does not allow the origin.
async function expectRefused(page, method, path, options, corsErrors) {
  const before = corsErrors.length;
  const got = await call(page, method, path, options);
  if (!got.error) {
    fail(`${method} ${path} from ${UNLISTED_ORIGIN}: the page read an answer (status ${got.status}), want the browser to refuse it: AUTH_CORS_ORIGINS does not list this origin`);
  }
  expectEqual(`${method} ${path} from ${UNLISTED_ORIGIN}: the error fetch rejected with`, got.error.name, 'TypeError');
  // Chromium says why on the console; wait for it, since it may come a moment
  // after the rejection.
  const deadline = Date.now() + 5_000;
  while (corsErrors.length === before) {
    if (Date.now() > deadline) fail(`${method} ${path} from ${UNLISTED_ORIGIN}: fetch failed, but Chromium logged no CORS refusal for it`);
    await delay(50);
  }
}

// checkUnlistedOrigin makes the same calls from an origin authapi does not
// list: the browser must refuse every one.
async function checkUnlistedOrigin(page, corsErrors, tokens) {
  step(`CORS: the same calls from ${UNLISTED_ORIGIN}, which AUTH_CORS_ORIGINS does not list`);

  // A simple request reaches the service, but the browser hides the answer.
  await expectRefused(page, 'GET', '/healthz', {}, corsErrors);
  step('GET /healthz: refused by the browser (TypeError)');

  // A JSON POST needs a preflight, which the service does not grant, so the
  // browser never sends the request itself: no account may come of it.
  const email = uniqueEmail('unlisted');
  await expectRefused(page, 'POST', '/signup',
    { body: { email, password: PASSWORD, first_name: 'Browser', last_name: 'Tester' } }, corsErrors);
  const res = await fetch(`${BASE_URL}/signup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD, first_name: 'Browser', last_name: 'Tester' }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (res.status !== 201) {
    fail(`the refused POST /signup from ${UNLISTED_ORIGIN} still reached the service: a signup with its email from outside the browser got ${res.status}, want 201: ${(await res.text()).slice(0, 300)}`);
  }
  step('POST /signup: refused by the browser before it was sent (the email is still free)');

  await expectRefused(page, 'POST', '/login', { body: { email, password: PASSWORD } }, corsErrors);
  step('POST /login: refused by the browser');
  await expectRefused(page, 'GET', '/me', { token: tokens.access_token }, corsErrors);
  step('GET /me with a valid bearer token: refused by the browser');
  await expectRefused(page, 'POST', '/refresh', { body: { refresh_token: tokens.refresh_token } }, corsErrors);
  step('POST /refresh: refused by the browser');
}

// totp computes the current code of an authenticator app for a base32
// secret (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), as the user's app
// would.
function totp(secret, now = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const key = [];
  let bits = 0;
  let value = 0;
  for (const ch of secret.replace(/=+$/, '').toUpperCase()) {
    const digit = alphabet.indexOf(ch);
    if (digit < 0) fail(`the TOTP secret ${JSON.stringify(secret)} is not base32`);
    value = ((value << 5) | digit) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      key.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 30_000)));
  const mac = createHmac('sha1', Buffer.from(key)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

// amr returns the amr claim of an access token, decoded without checking the
// signature: the test only reads what the service put in.
function amr(accessToken) {
  expectToken('access token', accessToken);
  return JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString()).amr;
}

// runExample calls one of the README example's functions in the page and
// returns its result, or the error it threw with the problem it carries.
function runExample(page, name, ...args) {
  return page.evaluate(async ([fn, list]) => {
    try {
      return { result: await globalThis[fn](...list) };
    } catch (err) {
      return { error: { name: err.name, message: err.message, problem: err.problem ?? null } };
    }
  }, [name, args]);
}

async function expectExample(page, name, ...args) {
  const got = await runExample(page, name, ...args);
  if (got.error) {
    const { name: type, message, problem } = got.error;
    fail(`${name}() from the README threw ${type}: ${message}${problem ? `\nproblem: ${JSON.stringify(problem)}` : ''}`);
  }
  return got.result;
}

// apiAnswer resolves to the next answer the page gets from the service for
// method and path, for the calls the README's example makes out of sight.
function apiAnswer(page, method, path) {
  return page.waitForResponse((r) => r.url() === `${BASE_URL}${path}` && r.request().method() === method);
}

// virtualAuthenticator gives page a platform authenticator, as a laptop's
// fingerprint reader would be: CTAP2, built in, keeps discoverable
// credentials, verifies the user, and answers without a touch.
async function virtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    },
  };
}

// checkPasskeys goes through a passkey's life with the README's example.
async function checkPasskeys(page) {
  step(`passkeys: the README's example in the page on ${LISTED_ORIGIN}, with a virtual authenticator`);
  const { email, tokens } = await signupAndLogin(page, 'passkey');

  await page.addScriptTag({ url: `${LISTED_ORIGIN}/readme-passkeys.js` });
  const loaded = await page.evaluate(() => ['call', 'addPasskey', 'loginWithPasskey', 'loginWithPasswordThenPasskey']
    .filter((name) => typeof globalThis[name] !== 'function'));
  if (loaded.length) fail(`the README's passkey example defines no function ${loaded.join(', ')}`);
  step(`loaded the README's passkey example, with API = ${BASE_URL}`);
  const authenticator = await virtualAuthenticator(page);

  const registered = apiAnswer(page, 'POST', '/me/passkeys');
  const added = await expectExample(page, 'addPasskey', tokens.access_token, 'e2e key');
  expectEqual('POST /me/passkeys: status', (await registered).status(), 201);
  expectEqual('addPasskey: name', added.name, 'e2e key');
  expectEqual('addPasskey: last_used_at', added.last_used_at, null);
  // A platform authenticator that does not sync: a device-bound passkey.
  expectEqual('addPasskey: backup_eligible', added.backup_eligible, false);
  if (typeof added.id !== 'string' || !added.id) fail(`addPasskey: no id in ${JSON.stringify(added)}`);
  const stored = await authenticator.credentials();
  if (stored.length !== 1 || stored[0].rpId !== 'localhost' || !stored[0].isResidentCredential) {
    fail(`the authenticator holds ${JSON.stringify(stored.map(({ rpId, isResidentCredential }) => ({ rpId, isResidentCredential })))}, want one discoverable credential for localhost`);
  }
  step(`addPasskey(access_token, "e2e key"): 201, the authenticator holds a discoverable credential for RP ID localhost`);

  await expectAnswer(page, 'POST', '/logout', { body: { refresh_token: tokens.refresh_token } }, 200);
  const ended = await expectAnswer(page, 'POST', '/refresh', { body: { refresh_token: tokens.refresh_token } }, 401);
  expectEqual('POST /refresh after /logout: code', ended.body.code, 'invalid_token');
  step('POST /logout: 200, the session has ended');

  const passkeyLogin = await expectExample(page, 'loginWithPasskey');
  expectToken('loginWithPasskey: refresh_token', passkeyLogin.refresh_token);
  expectEqual('loginWithPasskey: the access token\'s amr', amr(passkeyLogin.access_token), ['hwk', 'user']);
  const me = await expectAnswer(page, 'GET', '/me', { token: passkeyLogin.access_token }, 200);
  expectEqual('GET /me after loginWithPasskey: email', me.body.email, email);
  step('loginWithPasskey(): tokens with amr ["hwk","user"], for the account');

  const enrolment = await expectAnswer(page, 'POST', '/me/mfa/totp', { token: passkeyLogin.access_token }, 200);
  const confirmed = await expectAnswer(page, 'POST', '/me/mfa/totp/confirm',
    { token: passkeyLogin.access_token, body: { code: totp(enrolment.body.secret) } }, 200);
  expectEqual('POST /me/mfa/totp/confirm: recovery codes', confirmed.body.recovery_codes?.length, 10);
  step('POST /me/mfa/totp, then /me/mfa/totp/confirm with the current code: two-step login is on');

  // The example handles mfa_required itself; the page's network shows it.
  const passwordAnswer = apiAnswer(page, 'POST', '/login');
  const mfaAnswer = apiAnswer(page, 'POST', '/login/mfa');
  const twoStep = await expectExample(page, 'loginWithPasswordThenPasskey', email, PASSWORD);
  const first = await passwordAnswer;
  const problem = await first.json();
  if (first.status() !== 403 || problem.code !== 'mfa_required') {
    fail(`POST /login for an account with TOTP: got ${first.status()} ${JSON.stringify(problem).slice(0, 300)}, want 403 mfa_required`);
  }
  for (const method of ['totp', 'webauthn']) {
    if (!problem.methods?.includes(method)) fail(`POST /login: mfa_required lists methods ${JSON.stringify(problem.methods)}, want ${method} among them`);
  }
  const allowed = problem.webauthn?.publicKey?.allowCredentials ?? [];
  if (allowed.length !== 1) fail(`POST /login: mfa_required's webauthn options allow ${JSON.stringify(allowed)}, want the account's one passkey`);
  expectEqual('POST /login/mfa with the passkey: status', (await mfaAnswer).status(), 200);
  expectEqual('loginWithPasswordThenPasskey: the access token\'s amr', amr(twoStep.access_token), ['pwd', 'hwk', 'user']);
  step('loginWithPasswordThenPasskey(): 403 mfa_required with methods ' +
    `${JSON.stringify(problem.methods)}, then POST /login/mfa with the passkey: tokens with amr ["pwd","hwk","user"]`);

  const token = twoStep.access_token;
  const listed = await expectAnswer(page, 'GET', '/me/passkeys', { token }, 200);
  expectEqual('GET /me/passkeys: ids', listed.body.passkeys.map((p) => p.id), [added.id]);
  expectEqual('GET /me/passkeys: name', listed.body.passkeys[0].name, 'e2e key');
  if (listed.body.passkeys[0].last_used_at === null) fail('GET /me/passkeys: last_used_at is still null after two logins with the passkey');
  step('GET /me/passkeys: the passkey, with when it was last used');

  const renamed = await expectAnswer(page, 'PATCH', `/me/passkeys/${added.id}`, { token, body: { name: 'e2e key, renamed' } }, 200);
  expectEqual('PATCH /me/passkeys/{id}: name', renamed.body.name, 'e2e key, renamed');
  step('PATCH /me/passkeys/{id}: 200, renamed');

  const removed = await expectAnswer(page, 'DELETE', `/me/passkeys/${added.id}`, { token }, 204);
  expectEqual('DELETE /me/passkeys/{id}: body', removed.body, null);
  const none = await expectAnswer(page, 'GET', '/me/passkeys', { token }, 200);
  expectEqual('GET /me/passkeys after the removal', none.body.passkeys, []);
  step('DELETE /me/passkeys/{id}: 204, and the list is empty');

  // The authenticator still has the credential, and offers it; the service
  // must no longer take it.
  const refused = await runExample(page, 'loginWithPasskey');
  if (!refused.error) fail(`loginWithPasskey() with the removed passkey logged in: ${JSON.stringify(refused.result).slice(0, 200)}`);
  const { problem: gone } = refused.error;
  if (gone?.status !== 400 || gone?.code !== 'invalid_passkey') {
    fail(`loginWithPasskey() with the removed passkey: threw ${refused.error.name}: ${refused.error.message}, problem ${JSON.stringify(gone)}, want 400 invalid_passkey`);
  }
  step('loginWithPasskey() with the removed passkey: 400 invalid_passkey');
}

// openListed opens the front end on the listed origin with its problems
// watched: anything going wrong there fails the test.
async function openListed(context, problems) {
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !ERROR_STATUS_LOGGED.test(msg.text())) problems.add(`console error on ${LISTED_ORIGIN}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.add(`uncaught page error on ${LISTED_ORIGIN}: ${err.message}`));
  page.on('requestfailed', (req) => problems.add(`request failed on ${LISTED_ORIGIN}: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`));
  page.on('crash', () => problems.add(`the page on ${LISTED_ORIGIN} crashed`));
  await open(page, LISTED_ORIGIN);
  return page;
}

// openUnlisted opens the front end on the unlisted origin and collects the
// console's CORS refusals into corsErrors; any other error is a problem.
async function openUnlisted(context, problems, corsErrors) {
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() !== 'error' || ERROR_STATUS_LOGGED.test(msg.text())) return;
    if (msg.text().includes(`from origin '${UNLISTED_ORIGIN}' has been blocked by CORS policy`)) corsErrors.push(msg.text());
    // The refused request's own line, which says no more than the one above.
    else if (msg.text() === 'Failed to load resource: net::ERR_FAILED') return;
    else problems.add(`console error on ${UNLISTED_ORIGIN}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.add(`uncaught page error on ${UNLISTED_ORIGIN}: ${err.message}`));
  page.on('crash', () => problems.add(`the page on ${UNLISTED_ORIGIN} crashed`));
  await open(page, UNLISTED_ORIGIN);
  return page;
}

async function open(page, origin) {
  const url = `${origin}/?api=${encodeURIComponent(BASE_URL)}`;
  const res = await page.goto(url, { waitUntil: 'load' });
  if (!res || res.status() !== 200) fail(`GET ${url}: got status ${res?.status()}, want 200`);
  if (await page.evaluate(() => typeof apiRequest) !== 'function') fail(`${url}: the front end's script did not load`);
}

// expectNoServerErrors fails if the service answered any request with a 5xx:
// whatever a browser sends, the answer is the client's fault or a success.
function expectNoServerErrors() {
  const errors = readFileSync(SERVICE_LOG, 'utf8').split('\n').filter((line) => / status=5\d\d /.test(line));
  if (errors.length) fail(`the service answered with a server error:\n  ${errors.join('\n  ')}`);
}

async function check(context, problems) {
  const listed = await openListed(context, problems);
  step(`opened the front end on ${LISTED_ORIGIN}`);
  const tokens = await checkListedOrigin(listed);

  const corsErrors = [];
  const unlisted = await openUnlisted(context, problems, corsErrors);
  step(`opened the front end on ${UNLISTED_ORIGIN}`);
  await checkUnlistedOrigin(unlisted, corsErrors, tokens);
  await unlisted.close();

  // WebAuthn answers only the page that has the focus.
  await listed.bringToFront();
  await checkPasskeys(listed);
  expectNoServerErrors();
}

async function main() {
  if (!BASE_URL || !FRONTEND_PORT || !SERVICE_LOG) fail('BASE_URL, FRONTEND_PORT and SERVICE_LOG must be set');
  const frontend = await serveFrontend(readmePasskeyExample());
  step(`serving the test front end on ${LISTED_ORIGIN} and ${UNLISTED_ORIGIN}`);
  const problems = new Problems();
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: TIMEOUT_MS,
    });
    const context = await browser.newContext();
    context.setDefaultTimeout(TIMEOUT_MS);
    context.setDefaultNavigationTimeout(TIMEOUT_MS);
    await Promise.race([check(context, problems), problems.reported]);
    if (problems.list.length) fail('the page reported a problem');
  } catch (err) {
    if (problems.list.length === 0) throw err;
    // Whatever failed, what the page reported is most likely the cause.
    throw new CheckError(`${describe(err)}\nthe page reported:\n  ${problems.list.join('\n  ')}`);
  } finally {
    await browser?.close();
    frontend.closeAllConnections();
    frontend.close();
  }
}

try {
  await main();
  step('PASS');
} catch (err) {
  console.error(`browser-e2e: FAIL: ${describe(err)}`);
  process.exitCode = 1;
}
