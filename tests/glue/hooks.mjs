// Module hooks for entry.test.mjs: src/entry.js imports the runtime's
// `cloudflare:workers` and the Rust build; here both are stand-ins.
const fakes = {
  'cloudflare:workers': new URL('./fake-workers.mjs', import.meta.url).href,
  '../build/index.js': new URL('./fake-build.mjs', import.meta.url).href,
};

export async function resolve(specifier, context, next) {
  if (specifier in fakes && (specifier.startsWith('cloudflare:') || context.parentURL?.endsWith('/src/entry.js'))) {
    return { url: fakes[specifier], shortCircuit: true };
  }
  const resolved = await next(specifier, context);
  // entry.js is an ES module in a folder with no package.json to say so.
  return resolved.url.endsWith('/src/entry.js') ? { ...resolved, format: 'module' } : resolved;
}
