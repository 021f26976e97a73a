// driver.mjs runs Converse.js (index.html) in headless Chromium for the Go
// test ../conversejs_test.go and does what that test asks, one step at a
// time.
//
// Usage: node driver.mjs --chromium /usr/bin/chromium --profile DIR --timeout SECONDS
//
// It serves index.html and Converse's dist/ files on 127.0.0.1 (a port of
// its own), starts Chromium with a fresh profile in DIR, then reads one JSON
// command a line on stdin and answers each with one JSON line on stdout:
//
//   {"id":1,"op":"login","websocket_url":"ws://…","jid":"…","password":"…"}
//        (or "bosh_service_url":"http://…" instead of websocket_url)
//   {"id":2,"op":"click","selector":"…"}
//   {"id":3,"op":"waitText","selector":"…","text":"…"}
//   {"id":4,"op":"fill","selector":"…","text":"…"}
//   {"id":5,"op":"press","selector":"…","key":"Enter"}
//   {"id":6,"op":"type","selector":"…","text":"…"} (key by key, as a user types)
//   {"id":7,"op":"texts","selector":"…"}          → value: innerText of each match
//   {"id":8,"op":"eval","js":"return await api.…"} → value: what the body returns
//   {"id":9,"op":"sent","text":"…"}               → value: the WebSocket frames
//                                                    and BOSH requests Converse
//                                                    sent that contain text
//   {"id":10,"op":"reload"}                       (reload the page, wait until
//                                                    Converse is connected again)
//   {"id":11,"op":"close"}
//
// Answers are {"id":N,"ok":true,"value":…} or {"id":N,"ok":false,"error":"…",
// "page":"the page's visible text"}. Every wait is bounded by the command's
// "timeout" (milliseconds, default 15000), the whole run by --timeout.
// Stderr gets the browser console (Converse logs at debug level) and every
// WebSocket frame and BOSH request, "C>" from Converse and "S>" from the
// server.
//
// When stdin ends, on SIGTERM or SIGINT, at --timeout, or after "close",
// it closes the browser and exits.

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'node_modules', 'converse.js', 'dist');

const { values: opts } = parseArgs({
    options: {
        chromium: { type: 'string', default: '/usr/bin/chromium' },
        profile: { type: 'string' },
        timeout: { type: 'string', default: '120' },
    },
});
if (!opts.profile) {
    console.error('driver.mjs: --profile DIR is required');
    process.exit(2);
}

const started = Date.now();
const log = (...a) => process.stderr.write(`${((Date.now() - started) / 1000).toFixed(3)} ${a.join(' ')}\n`);
const reply = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

// --- the web server for the page and Converse's files ---------------------

const types = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.mjs': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    '.json': 'application/json',
    '.map': 'application/json',
    '.wasm': 'application/wasm',
    '.svg': 'image/svg+xml',
    '.png': 'image/png',
    '.woff': 'font/woff',
    '.woff2': 'font/woff2',
    '.ttf': 'font/ttf',
    '.mp3': 'audio/mpeg',
    '.ogg': 'audio/ogg',
};

const web = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    let file;
    if (url.pathname === '/' || url.pathname === '/index.html') {
        file = path.join(here, 'index.html');
    } else if (url.pathname.startsWith('/dist/')) {
        file = path.join(dist, path.normalize(decodeURIComponent(url.pathname.slice('/dist/'.length))));
        if (!file.startsWith(dist + path.sep)) file = undefined;
    }
    if (!file) {
        res.writeHead(404).end();
        return;
    }
    try {
        const body = await readFile(file);
        res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream' });
        res.end(body);
    } catch {
        res.writeHead(404).end();
    }
});
await new Promise((resolve) => web.listen(0, '127.0.0.1', resolve));
const pageURL = `http://127.0.0.1:${web.address().port}/`;

// --- the browser ------------------------------------------------------------

const context = await chromium.launchPersistentContext(opts.profile, {
    executablePath: opts.chromium,
    headless: true,
    chromiumSandbox: false, // --no-sandbox: tests run as root in containers
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    args: [
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
});
// The page may load only from this driver and talk only to the server
// under test: nothing else is reachable in CI, and waiting for it would
// only slow the test down.
await context.route(
    (url) => url.hostname !== '127.0.0.1',
    (route) => route.abort('blockedbyclient'),
);
const page = context.pages()[0] ?? (await context.newPage());
// sent keeps the frames and BOSH requests Converse sent, for the "sent"
// command.
const sent = [];
let boshURL;
page.on('request', (r) => {
    if (r.method() === 'POST' && r.url() === boshURL) {
        log('C>', r.postData());
        sent.push(r.postData() ?? '');
    }
});
page.on('response', async (r) => {
    if (r.status() >= 400) log('http', r.status(), r.url());
    if (r.request().method() === 'POST' && r.url() === boshURL) log('S>', await r.text().catch((e) => e.message));
});
page.on('console', (m) => log(`console.${m.type()}:`, m.text()));
page.on('pageerror', (e) => log('pageerror:', e.stack || e.message));
page.on('requestfailed', (r) => log('requestfailed:', r.url(), r.failure()?.errorText ?? ''));
page.on('websocket', (ws) => {
    log('websocket open:', ws.url());
    ws.on('framesent', (f) => {
        log('C>', f.payload);
        if (typeof f.payload === 'string') sent.push(f.payload);
    });
    ws.on('framereceived', (f) => log('S>', f.payload));
    ws.on('socketerror', (e) => log('websocket error:', e));
    ws.on('close', () => log('websocket closed'));
});

let closing;
function shutdown(code) {
    closing ??= (async () => {
        try {
            await context.close();
        } catch (e) {
            log('closing the browser:', e.message);
        }
        web.close();
        process.exit(code);
    })();
    return closing;
}
process.on('SIGTERM', () => shutdown(143));
process.on('SIGINT', () => shutdown(130));
const deadline = setTimeout(() => {
    log(`driver.mjs: --timeout ${opts.timeout}s reached`);
    shutdown(3);
}, Number(opts.timeout) * 1000);
deadline.unref();

// --- the commands -------------------------------------------------------------

// connected waits until the page's Converse is connected.
async function connected(timeout) {
    try {
        await page.waitForFunction(() => window.xmppdTest?.connected === true, null, { timeout });
    } catch (e) {
        const events = await page.evaluate(() => window.xmppdTest?.events).catch(() => undefined);
        throw new Error(`Converse did not connect (events ${JSON.stringify(events)}): ${e.message}`);
    }
}

const ops = {
    async login(cmd, timeout) {
        const cfg = { websocket_url: cmd.websocket_url, bosh_service_url: cmd.bosh_service_url, jid: cmd.jid, password: cmd.password };
        boshURL = cmd.bosh_service_url;
        // The init script runs again on every load of the page, reloads too.
        await page.addInitScript((c) => { window.xmppdTest = c; }, cfg);
        await page.goto(pageURL, { timeout });
        await connected(timeout);
    },
    async reload(cmd, timeout) {
        await page.reload({ timeout });
        await connected(timeout);
    },
    async click(cmd, timeout) {
        await locate(cmd).click({ timeout });
    },
    async waitText(cmd, timeout) {
        await locate(cmd).waitFor({ state: 'visible', timeout });
    },
    async fill(cmd, timeout) {
        await page.locator(cmd.selector).first().fill(cmd.text, { timeout });
    },
    async press(cmd, timeout) {
        await page.locator(cmd.selector).first().press(cmd.key, { timeout });
    },
    async type(cmd, timeout) {
        await page.locator(cmd.selector).first().pressSequentially(cmd.text, { timeout });
    },
    async sent(cmd) {
        return sent.filter((f) => f.includes(cmd.text));
    },
    async texts(cmd) {
        return page.locator(cmd.selector).allInnerTexts();
    },
    async eval(cmd, timeout) {
        const run = page.evaluate(async (src) => {
            const body = new Function('api', `return (async () => { ${src} })();`);
            return body(window.xmppdTest.api);
        }, cmd.js);
        let timer;
        const expire = new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`eval: timeout ${timeout}ms exceeded`)), timeout);
        });
        try {
            return await Promise.race([run, expire]);
        } finally {
            clearTimeout(timer);
        }
    },
};

// locate is the first element matching cmd.selector, containing cmd.text
// when given.
function locate(cmd) {
    let loc = page.locator(cmd.selector);
    if (cmd.text !== undefined) loc = loc.filter({ hasText: cmd.text });
    return loc.first();
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
    if (!line.trim()) continue;
    let cmd;
    try {
        cmd = JSON.parse(line);
    } catch (e) {
        reply({ ok: false, error: `bad command ${JSON.stringify(line)}: ${e.message}` });
        continue;
    }
    if (cmd.op === 'close') {
        reply({ id: cmd.id, ok: true });
        break;
    }
    const op = ops[cmd.op];
    if (!op) {
        reply({ id: cmd.id, ok: false, error: `unknown op ${JSON.stringify(cmd.op)}` });
        continue;
    }
    log(`driver: ${cmd.op} ${cmd.selector ?? ''} ${cmd.text ?? ''}`);
    try {
        const value = await op(cmd, cmd.timeout ?? 15000);
        reply({ id: cmd.id, ok: true, value });
    } catch (e) {
        const text = await page.evaluate(() => document.body?.innerText ?? '').catch((err) => `(${err.message})`);
        reply({ id: cmd.id, ok: false, error: e.message, page: text.slice(0, 4000) });
    }
}
await shutdown(0);
