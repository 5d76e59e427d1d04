// tests/browser/proxy.mjs: a TCP proxy between the browser and Caddy that can cut the network:
// reset() sends a TCP RST on every connection through it (both sides), blackout(ms) does that
// and refuses new connections for ms (a network that is gone, then back), hold() parks new
// connections until release() (a network that drops packets, then comes back: the client's
// attempt completes the moment it is back). Used by the resume tests and the benchmark.
import net from 'node:net';

export async function startProxy(targetPort, host = '127.0.0.1') {
  const pairs = new Set();
  let refusing = false;
  let held = null; // sockets parked while holding
  const connectThrough = (client) => {
    const upstream = net.connect(targetPort, host);
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    if (refusing) {
      client.resetAndDestroy();
      return;
    }
    if (held) {
      client.pause();
      client.on('error', () => {});
      held.push(client);
      return;
    }
    connectThrough(client);
  });
  await new Promise((resolve) => server.listen(0, host, resolve));
  const proxy = {
    port: server.address().port,
    /** Connections through the proxy now. */
    get connections() {
      return pairs.size;
    },
    reset() {
      for (const { client, upstream } of pairs) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
      pairs.clear();
    },
    async blackout(ms) {
      refusing = true;
      proxy.reset();
      await new Promise((r) => setTimeout(r, ms));
      refusing = false;
    },
    hold() {
      held = [];
      proxy.reset();
    },
    /** Lets parked connections through; resolves to the time (performance.timeOrigin-based ms) it did. */
    release() {
      const parked = held || [];
      held = null;
      const at = performance.timeOrigin + performance.now();
      for (const c of parked) {
        if (!c.destroyed) {
          connectThrough(c);
          c.resume();
        }
      }
      return at;
    },
    close() {
      proxy.reset();
      for (const c of held || []) c.destroy();
      return new Promise((r) => server.close(r));
    },
  };
  return proxy;
}
