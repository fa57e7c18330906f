/**
 * Item text → hashed token ids. Two domains tokenised separately share one vocabulary by construction: a feature
 * is hashed with a fixed, seedless hash (32-bit FNV-1a over its UTF-8 bytes) into one of `buckets` rows, so the
 * same word lands in the same row whatever dataset it came from, with no vocabulary file to agree on.
 *
 *   text → HTML tags dropped, entities decoded → NFKC → lower case → accents folded (café = cafe)
 *        → words: runs of letters/digits, each emoji its own word
 *        → features: each word ("w:" + word) and the character 3-grams of "<word>" ("g:" + gram)
 *        → hashed, deduplicated, sorted
 *
 * Character n-grams let an unseen spelling ("sanding" vs "sander") share rows with seen ones; the boundary marks
 * keep a prefix gram ("<sa") apart from the same letters inside a word.
 */

/** Everything that decides which ids a text gets: stored with a dataset, checked against a model. */
export interface TokenizerSpec {
  hash: 'fnv1a32';
  /** Character n-gram length (of "<word>"). */
  ngram: number;
  buckets: number;
}

export const DEFAULT_TEXT_BUCKETS = 1 << 17;
export const TOKENIZER_NGRAM = 3;

export function tokenizerSpec(buckets: number = DEFAULT_TEXT_BUCKETS): TokenizerSpec {
  return { hash: 'fnv1a32', ngram: TOKENIZER_NGRAM, buckets };
}

export function sameTokenizer(a: TokenizerSpec, b: TokenizerSpec): boolean {
  return a.hash === b.hash && a.ngram === b.ngram && a.buckets === b.buckets;
}

/** The named entities product text actually uses; numeric references (&#233; &#xE9;) cover the rest. */
const NAMED_ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', ndash: '–', mdash: '—', hellip: '…', reg: '®',
  trade: '™', copy: '©', deg: '°', times: '×', frac12: '½', frac14: '¼', frac34: '¾', lsquo: '‘', rsquo: '’',
  ldquo: '“', rdquo: '”', bull: '•', middot: '·', micro: 'µ', plusmn: '±', eacute: 'é', egrave: 'è', agrave: 'à',
  ccedil: 'ç', uuml: 'ü', ouml: 'ö', auml: 'ä', szlig: 'ß', ntilde: 'ñ',
};

/** Decodes &name; &#123; &#x7B; (unknown names stay as written; invalid code points become U+FFFD). */
export function decodeHtmlEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z][a-z0-9]*);/gi, (whole, body: string) => {
    if (body[0] !== '#') return NAMED_ENTITIES[body] ?? NAMED_ENTITIES[body.toLowerCase()] ?? whole;
    const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : '\uFFFD';
  });
}

/** Lower-cased, accent-folded words of a text (see the file comment). */
export function words(text: string): string[] {
  // Tags first (entities may spell "<" that is text, not markup), then entities twice: "&amp;amp;" is common.
  const plain = decodeHtmlEntities(decodeHtmlEntities(text.replace(/<[^>]*>/g, ' ')));
  const folded = plain.normalize('NFKC').toLowerCase().normalize('NFD').replace(/\p{M}+/gu, '').normalize('NFC');
  return folded.match(/\p{Extended_Pictographic}|[\p{L}\p{N}]+/gu) ?? [];
}

const encoder = new TextEncoder();

/** 32-bit FNV-1a of a string's UTF-8 bytes. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(s)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The features of one word: the word itself and the character n-grams of "<word>" (code points, not UTF-16 units). */
export function wordFeatures(word: string, ngram: number = TOKENIZER_NGRAM): string[] {
  const features = [`w:${word}`];
  const marked = ['<', ...word, '>'];
  for (let i = 0; i + ngram <= marked.length; i++) features.push(`g:${marked.slice(i, i + ngram).join('')}`);
  return features;
}

/** The sorted, distinct token ids of a text. */
export function tokenIds(text: string, spec: TokenizerSpec): Int32Array {
  const ids = new Set<number>();
  for (const word of words(text)) for (const f of wordFeatures(word, spec.ngram)) ids.add(fnv1a32(f) % spec.buckets);
  return Int32Array.from(ids).sort();
}

/** Token ids of many texts, CSR: text i owns tokens[offsets[i] .. offsets[i + 1]). */
export interface TokenRows {
  offsets: Int32Array;
  tokens: Int32Array;
}

export function tokenRows(texts: readonly string[], spec: TokenizerSpec): TokenRows {
  const rows = texts.map((t) => tokenIds(t, spec));
  const offsets = new Int32Array(texts.length + 1);
  rows.forEach((r, i) => (offsets[i + 1] = offsets[i]! + r.length));
  const tokens = new Int32Array(offsets[texts.length]!);
  rows.forEach((r, i) => tokens.set(r, offsets[i]!));
  return { offsets, tokens };
}
