// Loaded by pmr's preload into Node apps whose main module is an ES module
// (`.mjs`): a relative import without an extension (`import './test'`),
// which Node refuses since it dropped `--experimental-specifier-resolution=node`,
// is tried with `.mjs`, `.js`, `.cjs` and as a directory's index, as that
// flag resolved it and as apps written for it expect. The first such import
// is reported on stderr, so the app can be fixed; nothing else changes.
let told = false;
const TRIES = ['.mjs', '.js', '.cjs', '/index.mjs', '/index.js'];

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    const relative = specifier.startsWith('./') || specifier.startsWith('../');
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !relative || /\.[cm]?js$/.test(specifier)) throw err;
    for (const end of TRIES) {
      try {
        const found = await next(specifier + end, context);
        if (!told) {
          told = true;
          process.stderr.write(
            `pmr: import '${specifier}' resolved as '${specifier + end}' (Node needs the extension)\n`
          );
        }
        return found;
      } catch (_) {
        // Try the next form.
      }
    }
    throw err;
  }
}
