// A minimal client for any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp server, Ollama, LiteLLM …):
// POST {baseUrl}/chat/completions with text and image parts, images as data URLs. Every request has a timeout;
// 429, 5xx, timeouts and network failures are retried with exponential backoff (honouring Retry-After);
// other failures throw at once with the status and the server's message.

export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string; detail?: 'low' | 'high' | 'auto' } };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ContentPart[];
}

export interface ChatClientOptions {
  /** The API root, e.g. `https://api.openai.com/v1` or `http://localhost:8000/v1`. */
  baseUrl: string;
  model: string;
  /** Sent as a Bearer token when set; local servers usually need none. */
  apiKey?: string;
  /** Per attempt. Default 120 s: a vision model may take a while on a long description. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 5. */
  maxRetries?: number;
  /** First backoff delay; doubles per retry, with ±25 % jitter, capped at 60 s. Default 1 s. */
  retryBaseMs?: number;
}

export interface CompletionOptions {
  temperature?: number;
  maxTokens?: number;
  /** Asks for a JSON object (`response_format`), for servers that support it. */
  json?: boolean;
}

export class ChatError extends Error {
  constructor(
    message: string,
    /** The HTTP status, or undefined for a network failure or a timeout. */
    readonly status: number | undefined,
    readonly retryable: boolean,
    /** The server's Retry-After, when it sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ChatError';
  }
}

/** An image part holding the bytes as a data URL. */
export function imagePart(bytes: Uint8Array, mime = 'image/jpeg'): ContentPart {
  return { type: 'image_url', image_url: { url: `data:${mime};base64,${Buffer.from(bytes).toString('base64')}` } };
}

export function textPart(text: string): ContentPart {
  return { type: 'text', text };
}

const MAX_BACKOFF_MS = 60_000;

function parseRetryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The server's own error message when the body is the usual `{"error": {"message": …}}`, else the body's start. */
function describeBody(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string };
    const message = typeof parsed.error === 'string' ? parsed.error : parsed.error?.message;
    if (typeof message === 'string') return message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.slice(0, 300);
}

export class ChatClient {
  readonly model: string;
  private readonly url: string;
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseMs: number;

  constructor(options: ChatClientOptions) {
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
    this.model = options.model;
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.maxRetries = options.maxRetries ?? 5;
    this.retryBaseMs = options.retryBaseMs ?? 1000;
  }

  /** The assistant's reply text. Throws ChatError once retries are exhausted or on a non-retryable failure. */
  async complete(messages: readonly ChatMessage[], options: CompletionOptions = {}): Promise<string> {
    const body = JSON.stringify({
      model: this.model,
      messages,
      ...(options.temperature !== undefined && { temperature: options.temperature }),
      ...(options.maxTokens !== undefined && { max_tokens: options.maxTokens }),
      ...(options.json && { response_format: { type: 'json_object' } }),
    });
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(body);
      } catch (err) {
        const error = err instanceof ChatError ? err : new ChatError(String(err), undefined, false);
        if (!error.retryable || attempt >= this.maxRetries) {
          const tries = attempt + 1;
          error.message = `${this.url}: ${error.message}${tries > 1 ? ` (after ${tries} attempts)` : ''}`;
          throw error;
        }
        const backoff = Math.min(MAX_BACKOFF_MS, this.retryBaseMs * 2 ** attempt) * (0.75 + Math.random() * 0.5);
        await sleep(Math.max(backoff, error.retryAfterMs ?? 0));
      }
    }
  }

  private async attempt(body: string): Promise<string> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let response: Response;
    try {
      response = await fetch(this.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      const reason = timedOut ? `no answer within ${this.timeoutMs} ms` : `request failed${cause || `: ${String(err)}`}`;
      throw new ChatError(reason, undefined, true);
    }
    const text = await response.text();
    if (!response.ok) {
      const retryable = response.status === 429 || response.status >= 500;
      const wait = parseRetryAfter(response.headers.get('retry-after'));
      throw new ChatError(
        `HTTP ${response.status}: ${describeBody(text)}`,
        response.status,
        retryable,
        wait === undefined ? undefined : Math.min(wait, MAX_BACKOFF_MS),
      );
    }
    let reply: unknown;
    try {
      reply = (JSON.parse(text) as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message?.content;
    } catch {
      throw new ChatError(`the reply is not JSON: ${text.slice(0, 200)}`, response.status, false);
    }
    // Some servers return the content as a list of parts.
    if (Array.isArray(reply)) reply = reply.map((part: { text?: unknown }) => (typeof part.text === 'string' ? part.text : '')).join('');
    if (typeof reply !== 'string') throw new ChatError('the reply has no choices[0].message.content', response.status, false);
    return reply;
  }
}
