// Mermaid's own parser on diagrams: `node check.mjs FILE...` prints one JSON line per file,
// {"file", "ok", "type", "error"}, and exits 1 if any fails to parse. mermaid.parse needs a DOM
// (DOMPurify), which jsdom provides; nothing is rendered, so no browser is needed.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
for (const key of ["Element", "HTMLElement", "Node", "DOMParser", "XMLSerializer", "DocumentFragment"]) {
  globalThis[key] = dom.window[key];
}
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

let failed = 0;
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, "utf8");
  try {
    const result = await mermaid.parse(text);
    console.log(JSON.stringify({ file, ok: true, type: result.diagramType }));
  } catch (error) {
    failed += 1;
    console.log(JSON.stringify({ file, ok: false, error: String(error && error.message || error) }));
  }
}
process.exit(failed ? 1 : 0);
