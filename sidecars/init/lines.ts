// Splits a child's output stream into lines and hands each one on with a `[name] ` prefix.

// Buffers partial lines between chunks; `flush` emits a trailing line without newline.
export class LinePrefixer {
  private pending = '';

  constructor(private readonly prefix: string, private readonly emit: (line: string) => void, private readonly maxLine = 64 * 1024) {}

  push(chunk: string): void {
    const parts = (this.pending + chunk).split('\n');
    this.pending = parts.pop() ?? '';
    for (const p of parts) this.emit(`${this.prefix}${p.replace(/\r$/, '')}`);
    // A daemon that never prints a newline must not grow our memory without bound.
    if (this.pending.length > this.maxLine) {
      this.emit(`${this.prefix}${this.pending}`);
      this.pending = '';
    }
  }

  flush(): void {
    if (this.pending !== '') this.emit(`${this.prefix}${this.pending}`);
    this.pending = '';
  }
}
