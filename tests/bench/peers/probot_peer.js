// probot_peer.js: a Probot app as a peer for tests/bench/bench_receiver.sh
// (issue 12). Probot's createNodeMiddleware verifies X-Hub-Signature-256
// with the same secret as hookq-receiver and runs a no-op handler for every
// event; it keeps nothing, so this is the cost of Probot's stack alone.
//
//   node probot_peer.js PORT SECRET_FILE WEBHOOK_PATH
//
// Listens on 127.0.0.1:PORT. Answers 200 to a validly signed delivery on
// WEBHOOK_PATH, 400 to a bad signature, 200 "ok" on /healthz. Probot needs
// an App id and private key to start; it never calls GitHub here (the
// no-op handler makes no request), so a throwaway RSA key generated at start
// does.
import { serve } from "./serve.js";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { createNodeMiddleware, createProbot } from "probot";

const [port, secretFile, webhookPath] = process.argv.slice(2);
if (!port || !secretFile || !webhookPath) {
    console.error("usage: node probot_peer.js PORT SECRET_FILE WEBHOOK_PATH");
    process.exit(2);
}
// The secret file may end in a newline, as hookq-receiver's does.
const secret = readFileSync(secretFile, "utf8").replace(/\r?\n$/, "");
const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
});

const probot = createProbot({
    overrides: { appId: 1, privateKey, secret, logLevel: "warn" },
    env: { LOG_FORMAT: "json" },
});
const app = (p) => {
    p.onAny(async () => {});
};
const middleware = await createNodeMiddleware(app, { probot, webhooksPath: webhookPath });

serve(port, middleware);
