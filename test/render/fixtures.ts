import { syntheticExample, type SyntheticExample } from '../../src/render/synthetic';

/** Hostile label: HTML, a script end tag, both quotes and U+2028. */
export const EVIL = `</script><script>alert(1)</script> "q" 'a' \u2028 <img src=x onerror=alert(2)>`;

/** A small synthetic example with a hostile class name and layer name. */
export function evilExample(size = 32, layerSize = 4): SyntheticExample {
  return syntheticExample({ size, layerSize, channels: 6, className: EVIL, layer: `layer${EVIL}` });
}
