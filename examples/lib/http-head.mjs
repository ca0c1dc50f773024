// HTTP/1.1 request heads in, response heads out: the small part of HTTP that
// examples/static-file-server.mjs needs, shared by its zerosock and node:net servers. Not a
// general HTTP parser: heads end with CRLF CRLF, bodies are skipped by Content-Length (a
// chunked body is refused: the connection closes), nothing is decoded but the request line
// and the header fields.
//
//   const parser = new RequestHeadParser();
//   for (const req of parser.feed(bytes)) …  // { method, target, version, headers, keepAlive }
//                                            // or { error: 400 | 431 | 505, reason }
//   sock.send(responseHead(200, { 'Content-Length': 5 }));

/** The longest request head accepted (request line and header fields). */
export const MAX_HEAD_BYTES = 16 * 1024;

export const STATUS = {
  200: 'OK',
  206: 'Partial Content',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  416: 'Range Not Satisfiable',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VERSION = /^HTTP\/1\.[01]$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Turns the bytes of one connection into request heads, across reads: a head may be split
 * anywhere, several (pipelined) may arrive in one read. Bytes are only looked at during
 * `feed()`, so a borrowed view (zerosock's 'data') may be passed; an unfinished head is copied.
 */
export class RequestHeadParser {
  constructor({ maxHeadBytes = MAX_HEAD_BYTES } = {}) {
    this.maxHeadBytes = maxHeadBytes;
    /** Copy of an unfinished head, or null. */
    this.tail = null;
    /** Body bytes of the last request still to skip. */
    this.skip = 0;
    /** Set after an error: the stream cannot be framed any more, nothing more is parsed. */
    this.failed = false;
  }

  /** True while part of a request (head or body) has arrived but not all of it. */
  get partial() {
    return this.tail !== null || this.skip > 0;
  }

  /** Feeds one read; returns the requests (and at most one error, last) it completed. */
  feed(bytes) {
    const out = [];
    if (this.failed) return out;
    let buf = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength); // same memory, no copy
    let pos = 0;
    if (this.skip > 0) {
      const n = Math.min(this.skip, buf.length);
      this.skip -= n;
      pos = n;
    }
    if (this.tail !== null) {
      // Look for the end of the head from 3 bytes before the tail's end (CRLF CRLF may straddle).
      const from = Math.max(0, this.tail.length - 3);
      buf = Buffer.concat([this.tail, buf.subarray(pos)]);
      pos = 0;
      this.tail = null;
      const end = buf.indexOf(CRLFCRLF, from);
      if (end < 0) return this.keepTail(buf, 0, out);
      pos = this.one(buf, 0, end, out);
    }
    while (pos < buf.length && !this.failed) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, buf.length - pos);
        this.skip -= n;
        pos += n;
        continue;
      }
      const end = buf.indexOf(CRLFCRLF, pos);
      if (end < 0) return this.keepTail(buf, pos, out);
      pos = this.one(buf, pos, end, out);
    }
    return out;
  }

  /** Copies `buf[pos..]` (an unfinished head) for the next read, unless it is too long. */
  keepTail(buf, pos, out) {
    if (buf.length - pos > this.maxHeadBytes) return this.fail(out, 431, 'head too long');
    this.tail = Buffer.from(buf.subarray(pos)); // a copy: the read's memory may be reused
    return out;
  }

  fail(out, error, reason) {
    this.failed = true;
    this.tail = null;
    out.push({ error, reason });
    return out;
  }

  /** Parses the head in `buf[start..end)` (CRLF CRLF at `end`); returns where the next starts. */
  one(buf, start, end, out) {
    if (end - start > this.maxHeadBytes) {
      this.fail(out, 431, 'head too long');
      return buf.length;
    }
    // RFC 9112 2.2: empty lines before a request line are ignored.
    while (start < end && buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2;
    const req = parseHead(buf.toString('latin1', start, end).split('\r\n'));
    if (req.error !== undefined) {
      this.fail(out, req.error, req.reason);
      return buf.length;
    }
    out.push(req);
    this.skip = req.bodyLength;
    return end + 4;
  }
}

/** A request line and its header fields → a request, or `{ error, reason }`. */
function parseHead(lines) {
  const parts = lines[0].split(' ');
  if (parts.length !== 3) return { error: 400, reason: 'bad request line' };
  const [method, target, version] = parts;
  if (!TOKEN.test(method) || target === '' || /[\x00-\x20\x7f-\xff]/.test(target)) {
    return { error: 400, reason: 'bad request line' };
  }
  if (!VERSION.test(version)) {
    return /^HTTP\/\d\.\d$/.test(version)
      ? { error: 505, reason: 'version not supported' }
      : { error: 400, reason: 'bad request line' };
  }
  /** Lower-case names; repeated fields joined with ", " (RFC 9110 5.3). */
  const headers = Object.create(null);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    // No name, whitespace before the colon, a folded line (starts with SP/HT) or a bare CR/LF.
    if (colon <= 0) return { error: 400, reason: 'bad header field' };
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return { error: 400, reason: 'bad header field' };
    const value = line.slice(colon + 1).trim();
    if (!FIELD_VALUE.test(value)) return { error: 400, reason: 'bad header field' };
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  if (version === 'HTTP/1.1' && headers.host === undefined) {
    return { error: 400, reason: 'no Host' }; // RFC 9112 3.2
  }
  let bodyLength = 0;
  if (headers['transfer-encoding'] !== undefined) {
    return { error: 501, reason: 'request bodies with Transfer-Encoding are not supported' };
  }
  if (headers['content-length'] !== undefined) {
    // "5, 5" (a repeated field) is allowed when every value is the same.
    const values = new Set(headers['content-length'].split(',').map((v) => v.trim()));
    const [v] = values;
    if (values.size !== 1 || !/^\d{1,15}$/.test(v)) {
      return { error: 400, reason: 'bad Content-Length' };
    }
    bodyLength = Number(v);
  }
  const connection = (headers.connection ?? '').toLowerCase().split(/\s*,\s*/);
  const keepAlive =
    version === 'HTTP/1.1' ? !connection.includes('close') : connection.includes('keep-alive');
  return { method, target, version, headers, keepAlive, bodyLength };
}

/**
 * A `Range` header against a file of `size` bytes: `{ start, end }` (end inclusive) for one
 * satisfiable range, `'unsatisfiable'` (answer 416), or null (no range, or one this server
 * ignores: several ranges, another unit, bad syntax — answer 200 with the whole file).
 */
export function parseRange(header, size) {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]); // suffix: the last n bytes
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return null; // invalid: ignored (RFC 9110 14.1.1)
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

let dateSecond = 0;
let dateValue = '';
/** The Date header's value, made once per second. */
export function httpDate(now = Date.now()) {
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateValue = new Date(s * 1000).toUTCString();
  }
  return dateValue;
}

/** `HTTP/1.1 <status> <reason>`, a Date and `headers` (name → value), ending in CRLF CRLF. */
export function responseHead(status, headers = {}) {
  let head = `HTTP/1.1 ${status} ${STATUS[status] ?? 'Unknown'}\r\nDate: ${httpDate()}\r\n`;
  for (const name in headers) {
    if (headers[name] !== undefined) head += `${name}: ${headers[name]}\r\n`;
  }
  return `${head}\r\n`;
}
