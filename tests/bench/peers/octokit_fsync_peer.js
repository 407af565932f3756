// octokit_fsync_peer.js: @octokit/webhooks with an fsync per delivery, as a
// peer for tests/bench/bench_receiver.sh (issue 12). This is what a user
// writes when they want a delivery on disk before GitHub gets its 2xx:
// verify + receive with @octokit/webhooks, then in the handler append the
// delivery to a file and fsync it before answering.
//
//   node octokit_fsync_peer.js PORT SECRET_FILE WEBHOOK_PATH OUT_FILE
//
// Listens on 127.0.0.1:PORT. Answers 200 once a validly signed delivery on
// WEBHOOK_PATH is appended to OUT_FILE (one JSON line: id, event, payload)
// and fsynced, 400 to a bad signature, 200 "ok" on /healthz.
import { serve } from "./serve.js";
import { open, readFile } from "node:fs/promises";
import { Webhooks, createNodeMiddleware } from "@octokit/webhooks";

const [port, secretFile, webhookPath, outFile] = process.argv.slice(2);
if (!port || !secretFile || !webhookPath || !outFile) {
    console.error("usage: node octokit_fsync_peer.js PORT SECRET_FILE WEBHOOK_PATH OUT_FILE");
    process.exit(2);
}
const secret = (await readFile(secretFile, "utf8")).replace(/\r?\n$/, "");
const out = await open(outFile, "a");

const webhooks = new Webhooks({ secret });
webhooks.onAny(async ({ id, name, payload }) => {
    await out.appendFile(JSON.stringify({ id, event: name, payload }) + "\n");
    await out.sync();
});
// Only errors: the bench's bad-signature probe logs one line.
const log = { debug() {}, info() {}, warn: console.warn, error: console.error };
const middleware = createNodeMiddleware(webhooks, { path: webhookPath, log });

serve(port, middleware, async () => {
    await out.close();
});
