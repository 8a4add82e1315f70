// The OpenAI-compatible client, the LLM annotator and the LLM judge, against the local fixture server.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChatClient, ChatError, imagePart, textPart } from '../src/data/openai-client.js';
import { LlmAnnotator } from '../src/data/annotators/openai.js';
import { LlmJudge, meanRating, parseRatings } from '../src/data/rater/judge.js';
import { checkRules } from '../src/data/rater/rules.js';
import { startOpenAiFixture, type OpenAiFixture } from './fixtures/openai-server.js';

const JPEG = Buffer.from('/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q==', 'base64');

let server: OpenAiFixture;
beforeAll(async () => {
  server = await startOpenAiFixture();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.requests.length = 0;
});

const client = (options: Partial<ConstructorParameters<typeof ChatClient>[0]> = {}): ChatClient =>
  new ChatClient({ baseUrl: server.baseUrl, model: 'fixture-vision', retryBaseMs: 5, ...options });

describe('ChatClient', () => {
  it('posts text and data-URL image parts and returns the reply', async () => {
    const reply = await client({ apiKey: 'sk-test' }).complete([
      { role: 'user', content: [imagePart(JPEG), textPart('The image is tagged with the facial expression "sad". Explain.')] },
    ]);
    expect(reply).toContain('The facial expression is sad.');
    const [request] = server.requests;
    expect(request.model).toBe('fixture-vision');
    expect(request.images).toEqual([`data:image/jpeg;base64,${JPEG.toString('base64')}`]);
    expect(request.authorization).toBe('Bearer sk-test');
  });

  it('retries 429 and 5xx with backoff, honouring Retry-After', async () => {
    server.failNext(503, 2);
    server.failNext(429, 1, '0');
    const reply = await client().complete([{ role: 'user', content: 'tagged as fake' }]);
    expect(reply).toContain('fake');
    expect(server.requests).toHaveLength(4);
  });

  it('gives up after maxRetries with the status and the server message', async () => {
    server.failNext(500, 3);
    const error = await client({ maxRetries: 2 }).complete([{ role: 'user', content: 'x' }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChatError);
    expect((error as ChatError).status).toBe(500);
    expect((error as ChatError).message).toMatch(/HTTP 500: injected 500 \(after 3 attempts\)/);
  });

  it('does not retry a client error', async () => {
    server.failNext(400, 1);
    const error = await client().complete([{ role: 'user', content: 'x' }]).catch((e: unknown) => e);
    expect((error as ChatError).status).toBe(400);
    expect((error as ChatError).retryable).toBe(false);
    expect(server.requests).toHaveLength(1);
  });

  it('times out a slow answer and retries it', async () => {
    server.delayNext(500);
    const reply = await client({ timeoutMs: 100 }).complete([{ role: 'user', content: 'tagged as real' }]);
    expect(reply).toContain('real');
    expect(server.requests).toHaveLength(2);
    server.delayNext(500);
    const error = await client({ timeoutMs: 100, maxRetries: 0 }).complete([{ role: 'user', content: 'x' }]).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/no answer within 100 ms/);
  });

  it('reports an unreachable server clearly', async () => {
    const error = await new ChatClient({ baseUrl: 'http://127.0.0.1:9/v1', model: 'm', maxRetries: 0 })
      .complete([{ role: 'user', content: 'x' }])
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^http:\/\/127\.0\.0\.1:9\/v1\/chat\/completions: request failed/);
  });
});

describe('LLM annotator', () => {
  it('sends every frame and the label-conditioned prompt, and its text passes the rules', async () => {
    const annotator = new LlmAnnotator(client());
    expect(annotator.name).toBe('openai:fixture-vision');
    const label = { task: 'expression', value: 'surprise' } as const;
    const text = await annotator.annotate({ id: 'x', seed: 's', label, media: 'video', cues: {}, frames: async () => [JPEG, JPEG, JPEG] });
    const [request] = server.requests;
    expect(request.images).toHaveLength(3);
    expect(request.text).toMatch(/The video \(3 frames sampled uniformly, shown in order\) is tagged with the facial expression "surprise"/);
    expect(text).toMatch(/surprise/);
    expect(checkRules(text, label, {})).toEqual([]);
  });
});

describe('LLM judge', () => {
  it('rates a description that states the label high, one that does not low', async () => {
    const judge = new LlmJudge(client());
    const label = { task: 'deepfake', value: 'fake' } as const;
    const good = await judge.rate({ label, media: 'image', description: 'This face is fake: GAN artefacts in the hair.', frames: [JPEG] });
    const bad = await judge.rate({ label, media: 'image', description: 'A genuine photograph.', frames: [JPEG] });
    expect(good).toEqual({ label_accuracy: 9, media_consistency: 9, label_consistency: 9, overall: 8 });
    expect(meanRating(bad!)).toBe(2);
    expect(server.requests[0].images).toHaveLength(1);
    expect(server.requests[0].text).toContain('Ground-truth label of this image: fake.');
  });

  it('reads ratings from fenced or wordy replies and rejects incomplete ones', () => {
    expect(parseRatings('```json\n{"label_accuracy": 7, "media_consistency": 8, "label_consistency": 9, "overall": 8}\n```')).toEqual({
      label_accuracy: 7,
      media_consistency: 8,
      label_consistency: 9,
      overall: 8,
    });
    expect(parseRatings('{"label_accuracy": 7, "media_consistency": 8, "overall": 8}')).toBeNull();
    expect(parseRatings('{"label_accuracy": 0, "media_consistency": 8, "label_consistency": 9, "overall": 8}')).toBeNull();
    expect(parseRatings('I cannot rate this.')).toBeNull();
  });
});
