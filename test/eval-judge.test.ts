import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatClient, type ContentPart } from '../src/data/openai-client.js';
import { parseReasoningRatings, reasoningPrompt, ReasoningJudge, summarizeJudgements, type JudgeRequest } from '../src/eval/judge.js';
import { renderReport, evalMetrics } from '../src/eval/report.js';
import { runEval, type FaceReader } from '../src/eval/run.js';
import { startJudgeServer, type FixtureReply, type JudgeServer, type RecordedRequest } from './fixtures/judge-server.js';

const DATA = join(import.meta.dirname, '../../shared/data');
const VALID = '{"media_consistency": 7, "label_consistency": 9, "completeness": 6}';

let server: JudgeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function judgeWith(reply: (request: RecordedRequest, index: number) => FixtureReply, options: { attempts?: number; concurrency?: number } = {}) {
  server = await startJudgeServer(reply);
  const client = new ChatClient({ baseUrl: server.url, model: 'judge-test', apiKey: 'sk-judge', retryBaseMs: 1, maxRetries: 2 });
  return new ReasoningJudge(client, options);
}

const crop = { width: 4, height: 4, rgb: new Uint8Array(48).fill(200) };
const request: JudgeRequest = {
  label: { task: 'expression', value: 'happy' },
  media: 'image',
  instruction: 'What is the facial expression of the person in this image? Explain why.',
  answer: 'The person is happy: the lip corners are pulled up and the cheeks raised.',
  frames: [crop],
};

const userParts = (r: RecordedRequest) => r.body.messages[1].content as ContentPart[];

describe('reading the judge reply', () => {
  it('takes exactly the three ratings, as whole numbers from 1 to 10', () => {
    expect(parseReasoningRatings(VALID)).toEqual({ ratings: { media_consistency: 7, label_consistency: 9, completeness: 6 } });
    expect(parseReasoningRatings('```json\n' + VALID + '\n```')).toEqual(parseReasoningRatings(VALID));
    expect(parseReasoningRatings(` \n${VALID}\n`)).toEqual(parseReasoningRatings(VALID));
  });

  it('says what is wrong with anything else', () => {
    const reason = (reply: string) => {
      const parsed = parseReasoningRatings(reply);
      return 'reason' in parsed ? parsed.reason : 'parsed';
    };
    expect(reason('Ratings: 7, 9, 6')).toMatch(/^not a JSON object/);
    expect(reason(`Here you go: ${VALID}`)).toMatch(/^not a JSON object/);
    expect(reason('{"media_consistency": 7, "label_consistency": 9}')).toMatch(/completeness: /);
    expect(reason('{"media_consistency": 11, "label_consistency": 9, "completeness": 6}')).toMatch(/media_consistency: /);
    expect(reason('{"media_consistency": 7.5, "label_consistency": 9, "completeness": 6}')).toMatch(/media_consistency: /);
    expect(reason('{"media_consistency": "7", "label_consistency": 9, "completeness": 6}')).toMatch(/media_consistency: /);
    expect(reason('{"media_consistency": 7, "label_consistency": 9, "completeness": 6, "overall": 8}')).toMatch(/overall/);
    expect(reason('[7, 9, 6]')).toMatch(/expected object/);
  });
});

describe('the reasoning judge', () => {
  it('sends the face as a data URL, the label and the answer, and returns the ratings', async () => {
    const judge = await judgeWith(() => ({ content: VALID }));
    expect(await judge.rate(request)).toEqual({ ok: true, ratings: { media_consistency: 7, label_consistency: 9, completeness: 6 }, attempts: 1 });
    const [sent] = server!.requests;
    expect(sent.headers.authorization).toBe('Bearer sk-judge');
    expect(sent.body).toMatchObject({ model: 'judge-test', temperature: 0, response_format: { type: 'json_object' } });
    const [image, text] = userParts(sent);
    expect(image).toMatchObject({ type: 'image_url', image_url: { url: expect.stringMatching(/^data:image\/jpeg;base64,\/9j\//) } });
    expect(text).toEqual({ type: 'text', text: reasoningPrompt(request) });
    expect(reasoningPrompt(request)).toContain('Ground-truth label of this image: happy.');
    expect(reasoningPrompt(request)).toContain(`"""${request.answer}"""`);
  });

  it('asks again after a malformed reply, saying what was wrong', async () => {
    const judge = await judgeWith((_, i) => ({ content: i === 0 ? 'I would rate it highly.' : VALID }));
    expect(await judge.rate(request)).toMatchObject({ ok: true, attempts: 2 });
    const retry = server!.requests[1].body.messages;
    expect(retry.slice(2)).toEqual([
      { role: 'assistant', content: 'I would rate it highly.' },
      { role: 'user', content: expect.stringMatching(/^That reply is not valid \(not a JSON object: .*\)\. Reply with the JSON object only\.$/) },
    ]);
  });

  it('counts an answer as malformed after the last attempt, without throwing', async () => {
    const judge = await judgeWith(() => ({ content: '{"media_consistency": 0}' }), { attempts: 2 });
    const outcome = await judge.rate(request);
    expect(outcome).toMatchObject({ ok: false, error: 'malformed', attempts: 2 });
    expect(server!.requests).toHaveLength(2);
  });

  it('retries server errors through the client, and reports a request that keeps failing', async () => {
    const flaky = await judgeWith((_, i) => (i === 0 ? { status: 503, message: 'overloaded' } : { content: VALID }));
    expect(await flaky.rate(request)).toMatchObject({ ok: true, attempts: 1 });
    await server!.close();
    const denied = await judgeWith(() => ({ status: 401, message: 'invalid api key' }));
    const outcome = await denied.rate(request);
    expect(outcome).toMatchObject({ ok: false, error: 'failed', attempts: 1 });
    expect(!outcome.ok && outcome.reason).toMatch(/HTTP 401: invalid api key/);
  });

  it('rates no more answers at once than allowed', async () => {
    let active = 0;
    let peak = 0;
    server = await startJudgeServer(() => ({ content: VALID }));
    // Each request is held a little (by wrapping the client's complete) so that requests overlap.
    const client = new ChatClient({ baseUrl: server.url, model: 'judge-test' });
    const complete = client.complete.bind(client);
    client.complete = async (...args) => {
      peak = Math.max(peak, ++active);
      await new Promise((resolve) => setTimeout(resolve, 20));
      try {
        return await complete(...args);
      } finally {
        active--;
      }
    };
    const judge = new ReasoningJudge(client, { concurrency: 2 });
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => judge.rate(request)));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(peak).toBe(2);
  });

  it('averages the ratings of the rated answers', () => {
    const summary = summarizeJudgements('judge-test', [
      { ok: true, ratings: { media_consistency: 8, label_consistency: 9, completeness: 5 }, attempts: 1 },
      { ok: true, ratings: { media_consistency: 6, label_consistency: 7, completeness: 9 }, attempts: 2 },
      { ok: false, error: 'malformed', reason: 'x', attempts: 3 },
      { ok: false, error: 'failed', reason: 'y', attempts: 1 },
    ]);
    expect(summary).toEqual({ model: 'judge-test', rated: 2, malformed: 1, failed: 1, mean: { media_consistency: 7, label_consistency: 8, completeness: 7 } });
    expect(summarizeJudgements('judge-test', []).mean).toBeNull();
  });
});

describe('judging an evaluation run', () => {
  const faces: FaceReader = { read: async () => ({ kind: 'image', crops: [crop], landmarks: [[]] }) };

  it('rates every answer; malformed replies are counted and the run goes on', async () => {
    // Sample k answers "answer k"; the judge rates sample 1 with nonsense every time.
    const judge = await judgeWith((r) => {
      const text = (userParts(r).at(-1) as { text: string }).text;
      return text.includes('"""answer 1"""') ? { content: 'no idea' } : { content: VALID };
    });
    const answerer = { answer: async (questions: readonly unknown[], seed: number) => questions.map((_, i) => `answer ${seed + i}`) };
    const result = await runEval({ task: 'deepfake', pack: 'realorfake', dataRoot: DATA, split: 'val', limit: 4, batch: 2, faces, answerer, judge });
    expect(result.predictions.map((p) => p.judge?.ok)).toEqual([true, false, true, true]);
    expect(result.predictions[1].judge).toMatchObject({ ok: false, error: 'malformed', attempts: 3 });
    expect(result.judge).toEqual({ model: 'judge-test', rated: 3, malformed: 1, failed: 0, mean: { media_consistency: 7, label_consistency: 9, completeness: 6 } });
    // Each answer was judged against its own ground truth.
    const labels = server!.requests.map((r) => /label of this image: (real|fake)\./.exec((userParts(r).at(-1) as { text: string }).text)?.[1]);
    expect(new Set(labels)).toEqual(new Set(result.predictions.map((p) => p.truth)));

    const info = { model: 'm', generation: { temperature: 0.1, top_k: 50, max_new_tokens: 8 }, seed: 0, created: new Date(0), crop: 'whole', limit: null };
    const report = renderReport(evalMetrics(result, info), result);
    expect(report).toContain('## Reasoning ratings (judge: judge-test)\n\n3 of 4 answers rated (1 without valid ratings); each criterion from 1 to 10.');
    expect(report).toMatch(/\| media consistency \| 7\.00 \|/);
  });
});
