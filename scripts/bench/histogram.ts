// Latency histograms (HDR, microseconds): built the same way everywhere so encodings merge.
import * as hdr from 'hdr-histogram-js'

export type Histogram = hdr.Histogram

/** 1 µs to 10 minutes at 3 significant digits. */
export function createHistogram (): Histogram {
  return hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false })
}

/** Worker threads send their histograms as compressed base64 strings; the main thread merges them. */
export const encode = (h: Histogram): string => hdr.encodeIntoCompressedBase64(h)

export function mergeInto (total: Histogram, encoded: string): void {
  const part = hdr.decodeFromCompressedBase64(encoded, 32, false)
  total.add(part)
  part.destroy()
}

export interface LatencySummary { p50: number, p90: number, p99: number, p999: number, max: number, mean: number, count: number }

const ms = (micros: number) => Math.round(micros) / 1000

/** Percentiles in milliseconds (µs precision). */
export function summarize (h: Histogram): LatencySummary {
  const at = (p: number) => ms(h.totalCount === 0 ? 0 : h.getValueAtPercentile(p))
  return { p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: ms(h.totalCount === 0 ? 0 : h.maxValue), mean: ms(h.totalCount === 0 ? 0 : h.mean), count: h.totalCount }
}
