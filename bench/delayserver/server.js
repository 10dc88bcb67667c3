// bench/delayserver/server.js: the Node.js peer of the delay server for
// bench/delayserver/run. GET /{delay_ms}/{message} answers 200 with the
// message after setTimeout(delay_ms), like delayserver/delayserver does.
//   node server.js PORT   (0: any free port; the first line on stdout
//                          says "node listening on 127.0.0.1:<port>")
'use strict';
const http = require('http');

const server = http.createServer((req, res) => {
    const match = /^\/(\d+)\/([^/?]*)$/.exec(req.url);
    if (req.method !== 'GET' || !match) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('not found\n');
        return;
    }
    const body = decodeURIComponent(match[2]);
    setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8',
                            'content-length': Buffer.byteLength(body) });
        res.end(body);
    }, Number(match[1]));
});
server.keepAliveTimeout = 60000;  // like the other servers: no idle close during a run
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
    console.log(`node listening on 127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
