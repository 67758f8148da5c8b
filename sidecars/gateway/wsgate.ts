// WebSocket frames from the agent, judged per message before any of it leaves (RFC 6455 §5):
// the frames of a data message (first frame, continuations) are held and their payloads
// unmasked and reassembled, up to a cap; at the last fragment the whole message is judged
// like a request body, and only if it passes do its frames go upstream, byte for byte and in
// the order the agent sent them. Control frames (close, ping, pong: up to 125 bytes each) are
// judged on their own as they arrive; one between fragments waits with them, so the stream
// the upstream gets is exactly the agent's. A finding, an
// over-cap message or a frame that cannot be checked (compressed: RSV bits; unmasked; unknown
// opcode) refuses the connection: nothing more reaches the upstream.
import { Transform, type TransformCallback } from 'node:stream';
import type { Verdict } from '../../lib/policy/index.js';

// Close codes for the agent (RFC 6455 §7.4.1).
export const CLOSE_PROTOCOL = 1002;
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;

// Why the gate stopped the connection: a close code, a data-free reason, and the verdict of
// the DLP block when that was it.
export interface GateRefusal {
  code: number;
  reason: string;
  verdict?: Verdict;
}

// Judges one reassembled message (`binary`: opcode 2, or a control frame's payload).
export type JudgeMessage = (payload: Buffer, binary: boolean) => Verdict;

// A transform from the agent's socket to the upstream's: emits 'refused' (GateRefusal) once
// and then swallows everything, so the caller can close the agent side with the right code.
export class MessageGate extends Transform {
  private readonly input = new ByteQueue();
  private held: Buffer[] = []; // raw frames of the message in progress (and control frames amid it)
  private heldBytes = 0;
  private payloads: Buffer[] = []; // their unmasked payloads
  private binary = false;
  private inMessage = false;
  private refused = false;

  // `cap`: the most bytes one message may hold (frames included) to be scanned.
  constructor(private readonly cap: number, private readonly judge: JudgeMessage) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.refused) return done();
    this.input.push(chunk);
    for (;;) {
      const r = this.step();
      if (r === 'more') break;
      if (r !== 'ok') {
        this.refuse(r);
        break;
      }
    }
    done();
  }

  // Consumes one whole frame if it is in: 'more' when it is not yet, a refusal when it fails.
  private step(): 'ok' | 'more' | GateRefusal {
    const start = this.input.peek(2);
    if (!start) return 'more';
    const b0 = start[0]!;
    const b1 = start[1]!;
    const len7 = b1 & 0x7f;
    const headSize = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + 4;
    const head = this.input.peek(headSize);
    if (!head) return 'more';
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if (b0 & 0x70) return protocol('a compressed or extended frame (RSV bits) cannot be checked');
    if (!(b1 & 0x80)) return protocol('an unmasked frame from the client');
    const len = len7 === 126 ? head.readUInt16BE(2) : len7 === 127 ? Number(head.readBigUInt64BE(2)) : len7;
    const control = opcode >= 8;
    if (control && (opcode > 10 || !fin || len > 125)) return protocol('a malformed control frame');
    if (!control) {
      if (opcode > 2) return protocol(`unknown opcode ${opcode}`);
      if ((opcode === 0) !== this.inMessage) return protocol('a continuation frame out of place');
      // Refused before it is buffered: the declared length alone is over the cap.
      if (this.heldBytes + headSize + len > this.cap) {
        return { code: CLOSE_TOO_BIG, reason: `message is over ${this.cap} bytes (limit); too big to scan` };
      }
    }
    if (this.input.length < headSize + len) return 'more';
    const frame = this.input.take(headSize + len);
    const payload = unmask(frame.subarray(headSize), frame.subarray(headSize - 4, headSize));
    if (control) {
      const v = payload.length ? this.judge(payload, true) : undefined;
      if (v?.verdict === 'block') return policyBlock(v);
      if (!this.inMessage) this.push(frame);
      else {
        this.held.push(frame);
        this.heldBytes += frame.length;
      }
      return 'ok';
    }
    if (opcode !== 0) {
      this.inMessage = true;
      this.binary = opcode === 2;
    }
    this.held.push(frame);
    this.heldBytes += frame.length;
    this.payloads.push(payload);
    return fin ? this.release() : 'ok';
  }

  // The last fragment is in: judge the message whole, then send its frames on unchanged.
  private release(): 'ok' | GateRefusal {
    const message = this.payloads.length === 1 ? this.payloads[0]! : Buffer.concat(this.payloads);
    const frames = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held);
    const binary = this.binary;
    this.held = [];
    this.payloads = [];
    this.heldBytes = 0;
    this.inMessage = false;
    const v = message.length ? this.judge(message, binary) : undefined;
    if (v?.verdict === 'block') return policyBlock(v);
    this.push(frames);
    return 'ok';
  }

  private refuse(r: GateRefusal): void {
    this.refused = true;
    this.held = [];
    this.payloads = [];
    this.input.clear();
    this.emit('refused', r);
  }
}

function protocol(reason: string): GateRefusal {
  return { code: CLOSE_PROTOCOL, reason };
}

function policyBlock(v: Verdict): GateRefusal {
  return { code: CLOSE_POLICY, reason: v.reason, verdict: v };
}

// A copy of `payload` with the client's masking key removed.
function unmask(payload: Buffer, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = payload[i]! ^ key[i & 3]!;
  return out;
}

// A close frame from the server (unmasked) with a code and a short UTF-8 reason (≤ 123 bytes).
export function closeFrame(code: number, reason: string): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, 123);
  const out = Buffer.alloc(4 + text.length);
  out[0] = 0x88;
  out[1] = 2 + text.length;
  out.writeUInt16BE(code, 2);
  text.copy(out, 4);
  return out;
}

// Chunks as they arrived, read from the front without re-copying the whole backlog per chunk
// (a 10 MiB frame arriving in 64 KiB pieces is copied once, when it is taken).
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.length += b.length;
  }

  // The first `n` bytes without consuming them, or undefined while fewer are in.
  peek(n: number): Buffer | undefined {
    if (this.length < n) return undefined;
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    let k = 0;
    for (let got = 0; got < n; k++) got += this.chunks[k]!.length;
    const joined = Buffer.concat(this.chunks.slice(0, k));
    this.chunks.splice(0, k, joined);
    return joined.subarray(0, n);
  }

  take(n: number): Buffer {
    const first = this.chunks[0]!;
    this.length -= n;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const c = this.chunks[0]!;
      if (c.length <= need) {
        parts.push(c);
        this.chunks.shift();
        need -= c.length;
      } else {
        parts.push(c.subarray(0, need));
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    return Buffer.concat(parts, n);
  }

  clear(): void {
    this.chunks = [];
    this.length = 0;
  }
}
