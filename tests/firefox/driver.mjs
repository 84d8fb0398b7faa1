// Drives Debian's firefox-esr over WebDriver BiDi (puppeteer-core, no separate driver) for the
// Python tests in this folder. It knows nothing of interviewday: the tests decide what to open,
// what to evaluate and what to wait for.
//
// Protocol: one JSON command a line on stdin, one JSON answer a line on stdout, in order:
//   {"op": "open", "page": "a", "url": "...", "first": "...optional URL opened before (a magic
//       link: its cookie lands in this page's own browser context)",
//       "login": {"email": "...", "password": "..."}   (optional: fill the login form at `url`),
//       "wait_url": "...optional substring the final URL must contain"}
//   {"op": "eval", "page": "a", "fn": "(arg) => ...", "arg": any}        → {"ok": true, "value": ...}
//   {"op": "wait", "page": "a", "fn": "(arg) => ...", "arg": any, "timeout_ms": 10000}
//       → the first truthy value, polled every 50 ms; {"ok": false, "error", "last"} at the deadline
//   {"op": "close"}
// Answers carry the command's "id" back. Firefox runs headless with fake camera and microphone
// and ICE on loopback (FIREFOX_PATH, default /usr/bin/firefox-esr).
import { createInterface } from "node:readline";

import puppeteer from "puppeteer-core";

const PREFS = {
  // Fake camera and microphone (a test pattern and a tone), granted without a prompt.
  "media.navigator.streams.fake": true,
  "media.navigator.permission.disabled": true,
  // ICE on loopback: Firefox gathers no 127.0.0.1 candidates and hides host addresses behind
  // mDNS names unless told otherwise; the server only talks to loopback in the tests.
  "media.peerconnection.ice.loopback": true,
  "media.peerconnection.ice.obfuscate_host_addresses": false,
  "media.peerconnection.ice.no_host": false,
  // Remote audio and video play without a user gesture.
  "media.autoplay.default": 0,
  "media.autoplay.blocking_policy": 0,
};

const browser = await puppeteer.launch({
  browser: "firefox",
  protocol: "webDriverBiDi",
  executablePath: process.env.FIREFOX_PATH || "/usr/bin/firefox-esr",
  headless: true,
  extraPrefsFirefox: PREFS,
});
const pages = new Map();

function call(command) {
  const page = pages.get(command.page);
  if (!page) throw new Error(`no page ${command.page}`);
  // A string expression (the test's code as it came), evaluated by the protocol, which the
  // page's CSP does not govern; promises are awaited.
  return page.evaluate(`(${command.fn})(${JSON.stringify(command.arg ?? null)})`);
}

async function open(command) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  pages.set(command.page, page);
  if (command.first) await page.goto(command.first);
  await page.goto(command.url);
  if (command.login) {
    await page.type("#email", command.login.email);
    await page.type("#password", command.login.password);
    await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  }
  if (command.wait_url && !page.url().includes(command.wait_url)) {
    throw new Error(`landed on ${page.url()}, expected ${command.wait_url}`);
  }
  return page.url();
}

async function wait(command) {
  const deadline = Date.now() + (command.timeout_ms ?? 10000);
  let last = null;
  for (;;) {
    try {
      last = await call(command);
      if (last) return { ok: true, value: last };
    } catch (error) {
      last = String(error);
    }
    if (Date.now() > deadline) return { ok: false, error: "timed out", last };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function run(command) {
  switch (command.op) {
    case "open":
      return { ok: true, value: await open(command) };
    case "eval":
      return { ok: true, value: (await call(command)) ?? null };
    case "wait":
      return wait(command);
    case "close":
      return { ok: true, value: null };
    default:
      return { ok: false, error: `unknown op ${command.op}` };
  }
}

console.log(JSON.stringify({ ready: true, version: await browser.version() }));
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  let answer;
  try {
    answer = await run(command);
  } catch (error) {
    answer = { ok: false, error: String((error && error.stack) || error) };
  }
  console.log(JSON.stringify({ id: command.id ?? null, ...answer }));
  if (command.op === "close") break;
}
await browser.close();
// stdin stays open (the test holds its end): without this, node would wait on it.
process.exit(0);
