// Opens the Swagger UI served at /docs in a real Chromium and uses it the way
// a reader would: every operation of the document must be listed, and "Try it
// out" must reach the running server for a signup, a health probe and, after
// Authorize with a bearer token, GET /me. Any console error, uncaught page
// error, failed request or Content-Security-Policy violation fails the check,
// since each means the page is broken for someone.
//
// Environment:
//   BASE_URL     the running service, e.g. http://127.0.0.1:8080 (required)
//   SERVICE_LOG  the service's stderr, where the log mailer prints the
//                activation code (required)
//   CHROMIUM     the browser to drive (default /usr/bin/chromium)
//   SCREENSHOT   where to save a full-page screenshot (default /tmp/docs.png)

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.BASE_URL ?? '').replace(/\/+$/, '');
const SERVICE_LOG = process.env.SERVICE_LOG ?? '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT = process.env.SCREENSHOT || '/tmp/docs.png';

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

function fail(message) {
  throw new CheckError(message);
}

class CheckError extends Error {}

// describe gives a check's own failures as their message, and anything
// unexpected (a Playwright timeout, a bug here) with its stack.
function describe(err) {
  return err instanceof CheckError ? err.message : err.stack;
}

// Problems collects what the page reports going wrong. The first one rejects
// `reported`, so a broken page fails the check at once, with its cause,
// instead of after a wait for something that will never render.
class Problems {
  list = [];
  cspReported = 0;
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

  addViolation(v) {
    this.cspReported++;
    this.add(`CSP violation: ${v.directive} blocked ${v.blockedURI || '(inline)'} at ${v.sourceFile}:${v.line}:${v.column}`);
  }
}

function step(message) {
  console.log(`docs-browser-check: ${message}`);
}

// uniqueEmail gives each run its own account, so runs against the same
// database never collide with "email_taken".
function uniqueEmail(label) {
  return `docs.${label}.${randomUUID()}@example.com`;
}

// expectedOperations lists "METHOD /path" for every operation of the
// document, the set the UI must show.
function expectedOperations(doc) {
  const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of methods) {
      if (item[method]) ops.push(`${method.toUpperCase()} ${path}`);
    }
  }
  if (ops.length === 0) fail('/openapi.json describes no operations');
  return ops.sort();
}

async function fetchJSON(path, init, wantStatus) {
  const res = await fetch(`${BASE_URL}${path}`, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  const text = await res.text();
  if (res.status !== wantStatus) {
    fail(`${init?.method ?? 'GET'} ${path}: got status ${res.status}, want ${wantStatus}: ${text.slice(0, 300)}`);
  }
  return JSON.parse(text);
}

function postJSON(path, body, wantStatus) {
  return fetchJSON(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  }, wantStatus);
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

// accessToken creates an active account through the API itself and logs in,
// returning the account's email and its access token for Authorize.
async function accessToken() {
  const email = uniqueEmail('me');
  await postJSON('/signup', { email, password: PASSWORD, first_name: 'Docs', last_name: 'Reader' }, 201);
  await postJSON('/verify', { email, activation_code: await activationCode(email) }, 200);
  const tokens = await postJSON('/login', { email, password: PASSWORD }, 200);
  if (typeof tokens.access_token !== 'string' || tokens.access_token === '') {
    fail('POST /login: the response has no access_token');
  }
  return { email, token: tokens.access_token };
}

// operation returns the UI's block for one operation, found by what the
// reader sees (method and path) rather than by tag-derived ids.
function operation(page, method, path) {
  return page
    .locator('.opblock')
    .filter({ has: page.locator(`.opblock-summary-path[data-path="${path}"]`) })
    .filter({ has: page.locator('.opblock-summary-method', { hasText: new RegExp(`^${method}$`) }) })
    .first();
}

// tryItOut expands an operation, presses "Try it out", lets fill set the
// inputs, presses "Execute" and waits for the server's response to be shown,
// returning its status code and body as the UI displays them.
async function tryItOut(page, method, path, fill = async () => {}) {
  const block = operation(page, method, path);
  await block.waitFor();
  if (!(await block.evaluate((el) => el.classList.contains('is-open')))) {
    await block.locator('.opblock-summary').first().click();
  }
  await block.locator('button.try-out__btn', { hasText: 'Try it out' }).click();
  await fill(block);
  await block.locator('button.execute').click();

  // The live response row appears only once the request has completed.
  const row = block.locator('.live-responses-table tr.response').first();
  await row.waitFor();
  const status = (await row.locator('.response-col_status').first().innerText()).trim();
  const body = await row.locator('.response-col_description').first().innerText();
  const url = (await block.locator('.request-url pre').first().innerText()).trim();
  if (url !== `${BASE_URL}${path}`) {
    fail(`${method} ${path}: the UI sent the request to ${url}, want ${BASE_URL}${path}`);
  }
  return { status, body };
}

async function expectResponse(page, method, path, wantStatus, wantInBody, fill) {
  const { status, body } = await tryItOut(page, method, path, fill);
  if (status !== String(wantStatus)) {
    fail(`${method} ${path} from the UI: got status ${status}, want ${wantStatus}; body shown:\n${body.slice(0, 500)}`);
  }
  if (wantInBody && !body.includes(wantInBody)) {
    fail(`${method} ${path} from the UI: the response shown does not contain ${JSON.stringify(wantInBody)}:\n${body.slice(0, 500)}`);
  }
  step(`${method} ${path} executed from the UI: ${status}`);
}

async function authorize(page, token) {
  await page.locator('.auth-wrapper button.authorize').click();
  const dialog = page.locator('.dialog-ux .modal-ux');
  await dialog.waitFor();
  // The dialog holds one form per security scheme (user tokens and operator
  // keys); only the user's bearer scheme gets the access token.
  const form = dialog.locator('form').filter({ hasText: 'bearerAuth' });
  await form.locator('input#auth-bearer-value').fill(token);
  await form.locator('button.modal-btn.authorize', { hasText: 'Authorize' }).click();
  // Swagger UI swaps the button to "Logout" once the credentials are applied.
  await form.locator('button.modal-btn', { hasText: 'Logout' }).waitFor();
  await form.locator('button.btn-done').click();
  await dialog.waitFor({ state: 'detached' });
  step('authorized with a bearer token');
}

async function check(page, problems) {
  step(`reading ${BASE_URL}/openapi.json`);
  const want = expectedOperations(await fetchJSON('/openapi.json', undefined, 200));
  step('creating an active account for Authorize (signup, verify, login)');
  const me = await accessToken();

  step(`opening ${BASE_URL}/docs in Chromium`);
  const res = await page.goto(`${BASE_URL}/docs`, { waitUntil: 'load' });
  if (!res || res.status() !== 200) fail(`GET /docs: got status ${res?.status()}, want 200`);
  // The check is only meaningful under the policy the service really sends.
  if (!res.headers()['content-security-policy']) fail('GET /docs: no Content-Security-Policy header');

  // The operations render after the UI has fetched and parsed the document.
  await page.locator('.opblock .opblock-summary-path').first().waitFor();
  const got = await page.locator('.opblock').evaluateAll((blocks) =>
    blocks.map((b) => {
      const method = b.querySelector('.opblock-summary-method')?.textContent.trim().toUpperCase();
      const path = b.querySelector('.opblock-summary-path')?.getAttribute('data-path');
      return `${method} ${path}`;
    }));
  const gotSet = new Set(got);
  const missing = want.filter((op) => !gotSet.has(op));
  const extra = [...gotSet].filter((op) => !want.includes(op));
  if (missing.length || extra.length) {
    fail(`the UI's operations differ from /openapi.json:\n  missing: ${missing.join(', ') || 'none'}\n  not in the document: ${extra.join(', ') || 'none'}`);
  }
  step(`all ${want.length} operations of /openapi.json are shown`);

  const email = uniqueEmail('signup');
  await expectResponse(page, 'POST', '/signup', 201, email, async (block) => {
    await block.locator('textarea.body-param__text').fill(JSON.stringify({
      email, password: PASSWORD, first_name: 'Swagger', last_name: 'Reader',
    }, null, 2));
  });
  await expectResponse(page, 'GET', '/healthz', 200);

  await authorize(page, me.token);
  await expectResponse(page, 'GET', '/me', 200, me.email);

  // The page keeps its own record of violations too, so one still on its way
  // to the binding when the last step ends is not missed.
  const violations = await page.evaluate(() => window.__cspViolations);
  violations.slice(problems.cspReported).forEach((v) => problems.addViolation(v));
}

async function main() {
  if (!BASE_URL || !SERVICE_LOG) fail('BASE_URL and SERVICE_LOG must be set');
  const userDataDir = mkdtempSync(join(tmpdir(), 'docs-browser-check-'));
  const problems = new Problems();
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
      timeout: TIMEOUT_MS,
    });
    context.setDefaultTimeout(TIMEOUT_MS);
    context.setDefaultNavigationTimeout(TIMEOUT_MS);

    // Chromium does not report a blocked fetch or style as a console error,
    // so the page's own violation events are the only reliable witness. The
    // init script runs before the page's scripts and outside its policy.
    await context.exposeBinding('__reportCSPViolation', (_source, v) => problems.addViolation(v));
    await context.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        const v = {
          directive: e.violatedDirective,
          blockedURI: e.blockedURI,
          sourceFile: e.sourceFile,
          line: e.lineNumber,
          column: e.columnNumber,
        };
        window.__cspViolations.push(v);
        window.__reportCSPViolation(v);
      });
    });

    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.add(`console error: ${msg.text()}`);
      else if (msg.type() === 'warning') step(`console warning (not a failure): ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.add(`uncaught page error: ${err.message}`));
    page.on('requestfailed', (req) => problems.add(`request failed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`));
    page.on('crash', () => problems.add('the page crashed'));

    try {
      await Promise.race([check(page, problems), problems.reported]);
    } finally {
      await page.screenshot({ path: SCREENSHOT, fullPage: true }).then(
        () => step(`screenshot saved to ${SCREENSHOT}`),
        (err) => step(`could not save the screenshot: ${err.message}`),
      );
    }
    if (problems.list.length) fail('the page reported a problem');
  } catch (err) {
    if (problems.list.length === 0) throw err;
    // Whatever failed, what the page reported is most likely the cause.
    throw new CheckError(`${describe(err)}\nthe page reported:\n  ${problems.list.join('\n  ')}`);
  } finally {
    await context?.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

try {
  await main();
  step('PASS');
} catch (err) {
  console.error(`docs-browser-check: FAIL: ${describe(err)}`);
  process.exitCode = 1;
}
