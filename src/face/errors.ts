// Errors of the face expert. Every failure a user's input can cause is a FaceExpertError with a stable `code`,
// so callers (the CLI, a server) can branch on the code and show the message as is.

/**
 * The stable error codes:
 *
 * | code | meaning |
 * | --- | --- |
 * | `INPUT_NOT_FOUND` | the path does not exist or is not a readable file |
 * | `EMPTY_INPUT` | the file or buffer has no bytes |
 * | `UNSUPPORTED_MEDIA` | not an image (JPEG, PNG, WebP, GIF, AVIF, TIFF) or a video ffmpeg can open |
 * | `CORRUPT_MEDIA` | a known format, but truncated or damaged so that it cannot be decoded |
 * | `PIXEL_LIMIT` | the image or video frame has more pixels than allowed (a decompression bomb, or just too big) |
 * | `NO_FACE` | no face was found |
 * | `TOO_MANY_FACES` | more faces were found than the caller allows |
 * | `NO_VIDEO_FRAMES` | the video opens but has no decodable frame (no video stream, or none that decodes) |
 * | `TOO_FEW_FACE_FRAMES` | more than the allowed share (30 %) of the sampled video frames show no face |
 * | `FFMPEG_UNAVAILABLE` | a video was given but ffmpeg/ffprobe cannot be run |
 */
export type FaceErrorCode =
  | 'INPUT_NOT_FOUND'
  | 'EMPTY_INPUT'
  | 'UNSUPPORTED_MEDIA'
  | 'CORRUPT_MEDIA'
  | 'PIXEL_LIMIT'
  | 'NO_FACE'
  | 'TOO_MANY_FACES'
  | 'NO_VIDEO_FRAMES'
  | 'TOO_FEW_FACE_FRAMES'
  | 'FFMPEG_UNAVAILABLE';

export class FaceExpertError extends Error {
  override readonly name = 'FaceExpertError';

  constructor(
    readonly code: FaceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The JSON form the CLI prints: `{code, message}`. */
  toJSON(): { code: FaceErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}
