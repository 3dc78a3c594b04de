// Drives a small front end on another origin in a real Chromium against a
// running authapi, the way a single-page app would use it:
//
//  - CORS: from the origin the service lists (http://localhost:FRONTEND_PORT)
//    the page signs up, activates the account with the code from the
//    service's log, logs in, reads /me and refreshes, and sees every answer;
//    from an origin it does not list (http://127.0.0.1:FRONTEND_PORT, the
//    same server under another name) the browser refuses the same calls.
//
// The front end is tools/scripts/browser-e2e/, served by this script. Any
// console error, uncaught error or failed request on the listed origin's page
// fails the test; on the unlisted one, the browser's CORS refusals are the
// point and are checked instead.
//
// Environment:
//   BASE_URL       the running service, e.g. http://127.0.0.1:8080 (required);
//                  started with AUTH_CORS_ORIGINS=http://localhost:FRONTEND_PORT
//   FRONTEND_PORT  a free loopback port for the front end (required)
//   SERVICE_LOG    the service's stderr, where the log mailer prints the
//                  activation code (required)
//   CHROMIUM       the browser to drive (default /usr/bin/chromium)

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.BASE_URL ?? '').replace(/\/+$/, '');
const FRONTEND_PORT = Number(process.env.FRONTEND_PORT ?? '');
const SERVICE_LOG = process.env.SERVICE_LOG ?? '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const HERE = dirname(fileURLToPath(import.meta.url));
const FRONTEND_DIR = join(HERE, 'browser-e2e');

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

// serveFrontend serves the test front end on 127.0.0.1:FRONTEND_PORT, which
// answers for both origins.
function serveFrontend() {
  const files = {
    '/': ['index.html', 'text/html; charset=utf-8'],
    '/frontend.js': ['frontend.js', 'text/javascript; charset=utf-8'],
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://frontend').pathname;
    const file = files[path];
    if (req.method !== 'GET' || !file) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': file[1], 'Cache-Control': 'no-store' });
    res.end(readFileSync(join(FRONTEND_DIR, file[0])));
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

async function check(context, problems) {
  const listed = await openListed(context, problems);
  step(`opened the front end on ${LISTED_ORIGIN}`);
  const tokens = await checkListedOrigin(listed);

  const corsErrors = [];
  const unlisted = await openUnlisted(context, problems, corsErrors);
  step(`opened the front end on ${UNLISTED_ORIGIN}`);
  await checkUnlistedOrigin(unlisted, corsErrors, tokens);
}

async function main() {
  if (!BASE_URL || !FRONTEND_PORT || !SERVICE_LOG) fail('BASE_URL, FRONTEND_PORT and SERVICE_LOG must be set');
  const frontend = await serveFrontend();
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
