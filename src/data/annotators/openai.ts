// The LLM annotator: any OpenAI-compatible vision chat model writes the description from the face crops and the
// label-conditioned prompt (./prompts.ts). Its text goes through the same rule checks and judge as any other.
import { ChatClient, imagePart, textPart } from '../openai-client.js';
import { ANNOTATION_SYSTEM, annotationPrompt } from './prompts.js';
import type { AnnotationRequest, Annotator } from './types.js';

export interface LlmAnnotatorOptions {
  temperature?: number;
  maxTokens?: number;
}

export class LlmAnnotator implements Annotator {
  readonly name: string;

  constructor(
    private readonly client: ChatClient,
    private readonly options: LlmAnnotatorOptions = {},
  ) {
    this.name = `openai:${client.model}`;
  }

  async annotate(request: AnnotationRequest): Promise<string> {
    const frames = await request.frames();
    const reply = await this.client.complete(
      [
        { role: 'system', content: ANNOTATION_SYSTEM },
        {
          role: 'user',
          content: [...frames.map((frame) => imagePart(frame)), textPart(annotationPrompt(request.label, request.media, frames.length))],
        },
      ],
      { temperature: this.options.temperature ?? 0.2, maxTokens: this.options.maxTokens ?? 400 },
    );
    // One paragraph: models sometimes add line breaks or a heading despite the instruction.
    const text = reply.replace(/\s+/g, ' ').trim();
    if (text === '') throw new Error(`${this.name} returned an empty description for ${request.id}`);
    return text;
  }
}
