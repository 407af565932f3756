// serve.js: the HTTP server both bench peers share: a webhook middleware on
// 127.0.0.1:PORT, 200 "ok" on /healthz, 404 for anything the middleware
// does not take, keep-alive as wrk uses it, and a clean SIGTERM (onClose
// runs before exit).
import { createServer } from "node:http";

export function serve(port, middleware, onClose = async () => {}) {
    const server = createServer((req, res) => {
        if (req.url === "/healthz") {
            res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
            return;
        }
        middleware(req, res, () => {
            res.writeHead(404).end();
        });
    });
    server.keepAliveTimeout = 60_000;
    server.listen(Number(port), "127.0.0.1");
    process.on("SIGTERM", () => {
        server.close(async () => {
            await onClose();
            process.exit(0);
        });
        server.closeAllConnections();
    });
}
