// The one export of `cloudflare:workers` that src/entry.js uses.
export class DurableObject {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}
