// Keeps, in a bundle's source map, only the mappings into this project's own sources: a mapping
// into node_modules becomes an unmapped position (a one-field segment), so a stack frame in a
// dependency shows its place in index.mjs, as it would without a map, and a frame in our code its
// file and line. Why: with NODE_OPTIONS=--enable-source-maps, Node reads the map when the bundle
// loads and decodes every mapping at the first stack trace; the dependencies hold ~90% of them.
// Run by the bundling (infra/migrationFunctions.ts, afterBundling): node trimSourceMap.mjs <file.map>
import { readFileSync, writeFileSync } from 'node:fs';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DIGIT = new Map([...B64].map((c, i) => [c, i]));

function decodeSegment(text) {
  const values = [];
  let value = 0;
  let shift = 0;
  for (const char of text) {
    const digit = DIGIT.get(char);
    if (digit === undefined) throw new Error(`not base64 VLQ: ${char}`);
    value += (digit & 31) << shift;
    if (digit & 32) shift += 5;
    else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

function encode(value) {
  let vlq = value < 0 ? (-value << 1) | 1 : value << 1;
  let out = '';
  do {
    let digit = vlq & 31;
    vlq >>>= 5;
    if (vlq > 0) digit |= 32;
    out += B64[digit];
  } while (vlq > 0);
  return out;
}

export function trimSourceMap(map, keepSource = (source) => !/(^|\/)node_modules\//.test(source)) {
  const keep = map.sources.map((source) => keepSource(source));
  // Sources and names that no kept mapping refers to go too: new indices in order of first use.
  const sources = [], names = [];
  const sourceIndex = new Map(), nameIndex = new Map();
  const renumber = (index, table, list, values) => {
    if (!table.has(index)) {
      table.set(index, list.length);
      list.push(values[index]);
    }
    return table.get(index);
  };
  // Absolute values across the whole map (all fields but the generated column carry over lines).
  let source = 0, line = 0, column = 0, name = 0;
  let outSource = 0, outLine = 0, outColumn = 0, outName = 0;
  const lines = map.mappings.split(';').map((text) => {
    let genColumn = 0;
    let outGenColumn = 0;
    const segments = [];
    let lastWasUnmapped = false;
    for (const segment of text === '' ? [] : text.split(',')) {
      const v = decodeSegment(segment);
      genColumn += v[0];
      if (v.length === 1) {
        if (!lastWasUnmapped) segments.push(encode(genColumn - outGenColumn));
        else continue;
        outGenColumn = genColumn;
        lastWasUnmapped = true;
        continue;
      }
      source += v[1];
      line += v[2];
      column += v[3];
      if (v.length === 5) name += v[4];
      if (!keep[source]) {
        // One unmapped segment stands for a run of dependency code.
        if (lastWasUnmapped) continue;
        segments.push(encode(genColumn - outGenColumn));
        outGenColumn = genColumn;
        lastWasUnmapped = true;
        continue;
      }
      const newSource = renumber(source, sourceIndex, sources, map.sources);
      let out = encode(genColumn - outGenColumn) + encode(newSource - outSource) + encode(line - outLine) + encode(column - outColumn);
      if (v.length === 5) {
        const newName = renumber(name, nameIndex, names, map.names);
        out += encode(newName - outName);
        outName = newName;
      }
      outGenColumn = genColumn;
      outSource = newSource;
      outLine = line;
      outColumn = column;
      segments.push(out);
      lastWasUnmapped = false;
    }
    return segments.join(',');
  });
  const trimmed = { ...map, sources, names, mappings: lines.join(';') };
  if (map.sourcesContent) trimmed.sourcesContent = [...sourceIndex.keys()].map((index) => map.sourcesContent[index]);
  return trimmed;
}

if (process.argv[2]) {
  const file = process.argv[2];
  const map = JSON.parse(readFileSync(file, 'utf8'));
  const trimmed = trimSourceMap(map);
  writeFileSync(file, JSON.stringify(trimmed));
  console.log(`trimmed ${file}: mappings ${map.mappings.length} -> ${trimmed.mappings.length} characters`);
}
