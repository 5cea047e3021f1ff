// Test-only module hook: resolves the contract's `subnet:plugin/*` imports, which only exist
// inside a component, to fake-host.mjs, so the SDK's logic runs in plain node.
const fake = new URL('./fake-host.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier.startsWith('subnet:plugin/')) return { url: fake, shortCircuit: true };
  return next(specifier, context);
}
