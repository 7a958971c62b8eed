// The site map: every node of the site on one <canvas>, one rectangle per
// node, nodes grouped into blocks and blocks into pods. Nodes are batched
// by colour (one path per colour, culled to the viewport), so a frame of a
// 25,000-node site is a handful of fill() calls.

// Okabe-Ito, safe for the common colour-vision deficiencies.
export const COLORS = {
  free: '#e4e4e4',
  partial: '#56B4E9', // sky blue
  full: '#0072B2', // blue
  mine: '#E69F00', // orange
  failed: '#D55E00', // vermillion
  held: '#CC79A7', // reddish purple
  spare: '#009E73', // bluish green
  highlight: '#000000',
};
export const LEGEND = [
  ['free', 'free'],
  ['partial', 'partly in use'],
  ['full', 'fully in use'],
  ['mine', 'your jobs'],
  ['held', 'held for a reservation'],
  ['spare', 'hot spare'],
  ['failed', 'failed'],
];
const CLASSES = ['free', 'partial', 'full', 'mine', 'held', 'spare', 'failed'];

export class SiteMap {
  constructor(canvas, { onHover, onSelect, showMine = true } = {}) {
    this.showMine = showMine;
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.onHover = onHover || (() => {});
    this.onSelect = onSelect || (() => {});
    this.scale = 1;
    this.tx = 0;
    this.ty = 0;
    this.data = null;
    this.highlight = null;
    this.selected = -1;
    this.frameMs = [];
    this.bind();
  }

  // Lay the site out once: position of every node, block and pod in world units.
  setData(d) {
    const first = !this.data || this.data.blocks.length !== d.blocks.length;
    this.data = d;
    if (first) this.layout();
    this.classify();
    if (first) this.fit();
    this.draw();
  }

  layout() {
    const d = this.data;
    this.longest = undefined;
    const n = d.accels.length;
    this.nx = new Float32Array(n);
    this.ny = new Float32Array(n);
    const maxNodes = Math.max(1, ...d.blocks.map((b) => b.nodes));
    // A block is a little grid of nodes, taller than wide, like a rack.
    const bcols = Math.max(1, Math.round(Math.sqrt(maxNodes / 2)));
    const brows = Math.ceil(maxNodes / bcols);
    const gap = 1;
    this.bw = bcols + gap;
    this.bh = brows + gap;
    const maxBlocks = Math.max(1, ...d.pods.map((p) => p.blocks));
    const pcols = Math.max(1, Math.ceil(Math.sqrt(maxBlocks * 2)));
    const prows = Math.ceil(maxBlocks / pcols);
    const pw = pcols * this.bw + 3;
    const ph = prows * this.bh + 5; // room for the pod's label
    const { w, h } = this.size();
    const aspect = Math.min(4, Math.max(0.5, w / h));
    const cols = Math.max(1, Math.min(d.pods.length, Math.round(Math.sqrt(((d.pods.length * ph) / pw) * aspect))));
    this.blockBox = new Float32Array(d.blocks.length * 4);
    this.podBox = d.pods.map((p, i) => {
      const px = (i % cols) * pw;
      const py = Math.floor(i / cols) * ph;
      for (let k = 0; k < p.blocks; k++) {
        const bi = p.first_block + k;
        const b = d.blocks[bi];
        const bx = px + (k % pcols) * this.bw;
        const by = py + 4 + Math.floor(k / pcols) * this.bh;
        this.blockBox.set([bx, by, bcols, Math.ceil(b.nodes / bcols)], bi * 4);
        for (let j = 0; j < b.nodes; j++) {
          this.nx[b.first_node + j] = bx + (j % bcols);
          this.ny[b.first_node + j] = by + Math.floor(j / bcols);
        }
      }
      return [px, py, pcols * this.bw - gap, ph - 3];
    });
    this.world = [cols * pw, Math.ceil(d.pods.length / cols) * ph];
  }

  classify() {
    const d = this.data;
    const n = d.accels.length;
    const mine = new Uint8Array(n);
    if (this.showMine) for (const [node] of d.mine) mine[node] = 1;
    const cls = new Uint8Array(n);
    const counts = new Uint32Array(CLASSES.length);
    for (let i = 0; i < n; i++) {
      const s = d.state.charCodeAt(i);
      let c;
      if (s === 102) c = 6; // f
      else if (s === 115) c = 5; // s
      else if (mine[i]) c = 3;
      else if (s === 104) c = 4; // h
      else if (d.used[i] === 0) c = 0;
      else if (d.used[i] < d.accels[i]) c = 1;
      else c = 2;
      cls[i] = c;
      counts[c]++;
    }
    this.cls = cls;
    this.counts = Object.fromEntries(CLASSES.map((c, i) => [c, counts[i]]));
    // Node indices grouped by class, for one fill per colour.
    this.byClass = CLASSES.map((_, c) => {
      const a = new Uint32Array(counts[c]);
      let k = 0;
      for (let i = 0; i < n; i++) if (cls[i] === c) a[k++] = i;
      return a;
    });
  }

  fit() {
    const r = this.size();
    const s = Math.min(r.w / this.world[0], r.h / this.world[1]) * 0.98;
    this.scale = s;
    this.tx = (r.w - this.world[0] * s) / 2;
    this.ty = (r.h - this.world[1] * s) / 2;
  }

  size() {
    const rect = this.canvas.getBoundingClientRect();
    return { w: Math.max(1, rect.width), h: Math.max(1, rect.height) };
  }

  draw() {
    if (!this.data) return;
    const t0 = performance.now();
    const { w, h } = this.size();
    const dpr = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(h * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
    }
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, w, h);
    const s = this.scale;
    ctx.setTransform(dpr * s, 0, 0, dpr * s, dpr * this.tx, dpr * this.ty);
    // The visible world rectangle, for culling.
    const x0 = -this.tx / s - 1;
    const y0 = -this.ty / s - 1;
    const x1 = (w - this.tx) / s;
    const y1 = (h - this.ty) / s;
    // Pods: a faint frame and, when legible, a label.
    ctx.fillStyle = '#f6f6f6';
    for (const [px, py, pw, ph] of this.podBox) {
      if (px > x1 || py > y1 || px + pw < x0 || py + ph < y0) continue;
      ctx.fillRect(px - 0.5, py, pw + 1, ph);
    }
    const cell = s >= 4 ? 0.86 : 1; // gaps between nodes once they are big enough to see
    const nx = this.nx;
    const ny = this.ny;
    for (let c = 0; c < CLASSES.length; c++) {
      const idx = this.byClass[c];
      if (idx.length === 0) continue;
      ctx.fillStyle = COLORS[CLASSES[c]];
      ctx.beginPath();
      for (let k = 0; k < idx.length; k++) {
        const i = idx[k];
        const x = nx[i];
        const y = ny[i];
        if (x < x0 || x > x1 || y < y0 || y > y1) continue;
        ctx.rect(x, y, cell, cell);
      }
      ctx.fill();
    }
    // Failed nodes get a cross too, so they do not rely on colour alone.
    if (s >= 6 && this.byClass[6].length) {
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 1.5 / s;
      ctx.beginPath();
      for (const i of this.byClass[6]) {
        ctx.moveTo(nx[i] + 0.15, ny[i] + 0.15);
        ctx.lineTo(nx[i] + 0.7, ny[i] + 0.7);
        ctx.moveTo(nx[i] + 0.7, ny[i] + 0.15);
        ctx.lineTo(nx[i] + 0.15, ny[i] + 0.7);
      }
      ctx.stroke();
    }
    if (this.highlight && this.highlight.length) {
      ctx.strokeStyle = COLORS.highlight;
      ctx.lineWidth = Math.max(0.25, 2 / s);
      ctx.beginPath();
      for (const i of this.highlight) ctx.rect(nx[i] - 0.1, ny[i] - 0.1, 1.06, 1.06);
      ctx.stroke();
    }
    if (this.selected >= 0) {
      const b = this.blockBox.subarray(this.selected * 4, this.selected * 4 + 4);
      ctx.strokeStyle = COLORS.highlight;
      ctx.lineWidth = Math.max(0.2, 2.5 / s);
      ctx.strokeRect(b[0] - 0.35, b[1] - 0.35, b[2] + 0.6, b[3] + 0.6);
    }
    // Labels in screen space so that they stay crisp.
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#222';
    if (s * this.bw * 4 > 60) {
      ctx.font = '12px system-ui, sans-serif';
      ctx.textBaseline = 'top';
      this.data.pods.forEach((p, i) => {
        const [px, py] = this.podBox[i];
        const sx = px * s + this.tx;
        const sy = py * s + this.ty;
        if (sx > -200 && sy > -20 && sx < w && sy < h) ctx.fillText(p.name, sx, sy + 1);
      });
    }
    ctx.font = '10px system-ui, sans-serif';
    if (this.longest === undefined) this.longest = this.data.blocks.reduce((a, b) => (b.name.length > a.length ? b.name : a), '');
    const longest = this.longest;
    if (s > 4 && ctx.measureText(longest).width < (this.bw - 0.3) * s) {
      ctx.textBaseline = 'bottom';
      for (let bi = 0; bi < this.data.blocks.length; bi++) {
        const sx = this.blockBox[bi * 4] * s + this.tx;
        const sy = this.blockBox[bi * 4 + 1] * s + this.ty;
        if (sx > -100 && sy > 0 && sx < w && sy < h + 12) ctx.fillText(this.data.blocks[bi].name, sx, sy);
      }
    }
    const ms = performance.now() - t0;
    this.frameMs.push(ms);
    if (this.frameMs.length > 100) this.frameMs.shift();
    this.lastFrameMs = ms;
  }

  // Node under a screen point, or -1.
  nodeAt(sx, sy) {
    if (!this.data) return -1;
    const x = (sx - this.tx) / this.scale;
    const y = (sy - this.ty) / this.scale;
    for (let bi = 0; bi < this.data.blocks.length; bi++) {
      const o = bi * 4;
      const bx = this.blockBox[o];
      const by = this.blockBox[o + 1];
      if (x >= bx && y >= by && x < bx + this.blockBox[o + 2] && y < by + this.blockBox[o + 3]) {
        const b = this.data.blocks[bi];
        const cols = this.blockBox[o + 2];
        const j = Math.floor(y - by) * cols + Math.floor(x - bx);
        return j < b.nodes ? b.first_node + j : -1;
      }
    }
    return -1;
  }

  blockOf(node) {
    const bs = this.data.blocks;
    let lo = 0;
    let hi = bs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (bs[mid].first_node <= node) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  zoomAt(factor, sx, sy) {
    const s = Math.min(200, Math.max(0.05, this.scale * factor));
    const f = s / this.scale;
    this.tx = sx - (sx - this.tx) * f;
    this.ty = sy - (sy - this.ty) * f;
    this.scale = s;
  }

  pan(dx, dy) {
    this.tx += dx;
    this.ty += dy;
  }

  // Zoom so that nodes (indices) fill the view.
  zoomTo(nodes) {
    if (!nodes.length) return;
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const i of nodes) {
      x0 = Math.min(x0, this.nx[i]);
      y0 = Math.min(y0, this.ny[i]);
      x1 = Math.max(x1, this.nx[i] + 1);
      y1 = Math.max(y1, this.ny[i] + 1);
    }
    const pad = 6;
    const { w, h } = this.size();
    this.scale = Math.min(40, Math.min(w / (x1 - x0 + 2 * pad), h / (y1 - y0 + 2 * pad)));
    this.tx = w / 2 - ((x0 + x1) / 2) * this.scale;
    this.ty = h / 2 - ((y0 + y1) / 2) * this.scale;
  }

  select(bi) {
    this.selected = bi;
    this.draw();
    this.onSelect(bi);
  }

  bind() {
    const c = this.canvas;
    let drag = null;
    let raf = 0;
    const redraw = () => {
      if (!raf) raf = requestAnimationFrame(() => { raf = 0; this.draw(); });
    };
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      const r = c.getBoundingClientRect();
      this.zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top);
      redraw();
    }, { passive: false });
    c.addEventListener('mousedown', (e) => { drag = { x: e.clientX, y: e.clientY, moved: false }; });
    window.addEventListener('mouseup', (e) => {
      if (drag && !drag.moved && e.target === c) {
        const r = c.getBoundingClientRect();
        const n = this.nodeAt(e.clientX - r.left, e.clientY - r.top);
        if (n >= 0) this.select(this.blockOf(n));
      }
      drag = null;
    });
    c.addEventListener('mousemove', (e) => {
      const r = c.getBoundingClientRect();
      if (drag) {
        const dx = e.clientX - drag.x;
        const dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
        drag.x = e.clientX;
        drag.y = e.clientY;
        this.pan(dx, dy);
        redraw();
        return;
      }
      const n = this.nodeAt(e.clientX - r.left, e.clientY - r.top);
      this.onHover(n, e.clientX - r.left, e.clientY - r.top);
    });
    c.addEventListener('mouseleave', () => this.onHover(-1));
    // Double-click zooms into the block (and its pod around it).
    c.addEventListener('dblclick', (e) => {
      const r = c.getBoundingClientRect();
      const n = this.nodeAt(e.clientX - r.left, e.clientY - r.top);
      if (n < 0) return;
      const b = this.data.blocks[this.blockOf(n)];
      this.zoomTo([b.first_node, b.first_node + b.nodes - 1]);
      const { w, h } = this.size();
      this.zoomAt(0.35, w / 2, h / 2);
      redraw();
    });
    // Keyboard: arrows pan, + and - zoom, 0 fits, [ and ] step through
    // blocks, Enter shows the selected block.
    c.addEventListener('keydown', (e) => {
      const { w, h } = this.size();
      const step = 60;
      const nb = this.data ? this.data.blocks.length : 0;
      const k = e.key;
      if (k === 'ArrowLeft') this.pan(step, 0);
      else if (k === 'ArrowRight') this.pan(-step, 0);
      else if (k === 'ArrowUp') this.pan(0, step);
      else if (k === 'ArrowDown') this.pan(0, -step);
      else if (k === '+' || k === '=') this.zoomAt(1.25, w / 2, h / 2);
      else if (k === '-') this.zoomAt(0.8, w / 2, h / 2);
      else if (k === '0') this.fit();
      else if ((k === ']' || k === '[') && nb) {
        const bi = (this.selected + (k === ']' ? 1 : nb - 1)) % nb;
        const b = this.data.blocks[bi];
        this.selected = bi;
        this.zoomTo(Array.from({ length: b.nodes }, (_, j) => b.first_node + j));
        this.zoomAt(0.25, w / 2, h / 2);
      } else if (k === 'Enter' && this.selected >= 0) this.onSelect(this.selected);
      else return;
      e.preventDefault();
      redraw();
    });
    window.addEventListener('resize', redraw);
  }

  // For the browser tests: time `n` synchronous pan/zoom frames.
  benchFrames(n) {
    const { w, h } = this.size();
    const out = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      if (i % 2) this.pan(37, -23);
      else this.zoomAt(i % 4 ? 0.8 : 1.25, w / 2, h / 2);
      this.draw();
      out.push(performance.now() - t0);
    }
    return out;
  }
}
