/**
 * A checked part cut into what each email puts in: the text between its values (markers), its
 * template links to track and the open pixel. Built once per kept part (render.ts keeps it with
 * the part, see CheckedPart), so each email joins pieces instead of scanning the part for its
 * markers, and for its links, again. Pure.
 */
import { BODY_END_LENGTH, LinkWrapper, trackedLink, type LinkSlot, type TrackingPlan } from './tracking';
import { MARKER_LENGTH, planMarkers, type ValueMarkers } from './values';

/** The piece where the open pixel goes. */
const PIXEL = -1;

/** A template link and the text it replaces when it stays as it is (the tracker's own link). */
interface LinkPiece {
  link: LinkSlot;
  original: string;
}

/** `literals[0]`, then each piece followed by the next literal: a value's index, PIXEL or a link. */
export interface Assembly {
  readonly literals: readonly string[];
  readonly pieces: ReadonlyArray<number | LinkPiece>;
}

/**
 * The assembly of a marked part, with the links and the pixel of `tracking` when it is given.
 * Null when tracking cannot be put in by pieces: a link covering the part's last `</body>`
 * (whether the pixel goes there depends on whether that email tracks the link). Throws as
 * ValueMarkers#fill does for a damaged marker.
 */
export function assemblyOf(text: string, tracking: TrackingPlan | null): Assembly | null {
  const markers = planMarkers(text);
  const cuts: Array<{ start: number; end: number; piece: number | LinkPiece }> = markers.starts.map((start, i) => ({
    start,
    end: start + MARKER_LENGTH,
    piece: markers.indices[i] as number,
  }));
  if (tracking !== null) {
    for (const link of tracking.links) cuts.push({ start: link.start, end: link.end, piece: { link, original: text.slice(link.start, link.end) } });
    const bodyEnd = tracking.bodyEnd;
    if (bodyEnd !== null) {
      if (tracking.links.some((link) => link.start < bodyEnd + BODY_END_LENGTH && link.end > bodyEnd)) return null;
      const at = bodyEnd < 0 ? text.length : bodyEnd;
      cuts.push({ start: at, end: at, piece: PIXEL });
    }
    cuts.sort((a, b) => a.start - b.start || a.end - b.end);
  }
  const literals: string[] = [];
  const pieces: Array<number | LinkPiece> = [];
  let last = 0;
  for (const cut of cuts) {
    // Links hold no marker character (tracking.ts): pieces never overlap.
    if (cut.start < last) throw new Error(`a tracked link overlaps a value marker at ${cut.start}`);
    literals.push(text.slice(last, cut.start));
    pieces.push(cut.piece);
    last = cut.end;
  }
  literals.push(text.slice(last));
  return { literals, pieces };
}

/**
 * The part of one email: its values (through `encode`, HTML-escaping in the HTML part; each
 * value encoded once), and with `wrapper` its links tracked and `pixel` in place.
 */
export function assemble(assembly: Assembly, markers: ValueMarkers, encode: ((value: string) => string) | null, wrapper: LinkWrapper | null, pixel: string): string {
  const { literals, pieces } = assembly;
  const print = markers.printer(encode);
  let out = literals[0] as string;
  for (let i = 0; i < pieces.length; i += 1) {
    const piece = pieces[i] as number | LinkPiece;
    if (typeof piece === 'number') {
      out += piece === PIXEL ? pixel : print(piece);
    } else {
      const tracked = wrapper === null ? null : wrapper.wrap(piece.link.url);
      out += tracked === null ? piece.original : trackedLink(piece.link, tracked);
    }
    out += literals[i + 1] as string;
  }
  return out;
}
