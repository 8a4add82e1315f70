// What an instruction is: the text a user would type, and the form of answer it asks for.

/**
 * The form of the answer an instruction asks for:
 * - `free`: the full description, stating the label and the reasoning;
 * - `label`: the label alone, in words (an emotion word, "AU6 (cheek raiser), AU12 (lip corner puller)", the
 *   attribute phrases, an age in years, "Real" / "Fake");
 * - `codes`: action units as bare codes ("AU6, AU12");
 * - `yes-no`: "Yes" when the label equals `yes`, else "No".
 */
export type AnswerForm = 'free' | 'label' | 'codes' | 'yes-no';

/** An instruction as written in a pool: `{media}` stands for "image" or "video". */
export interface PoolEntry {
  readonly form: AnswerForm;
  readonly text: string;
  /** For `yes-no`: the label value a "Yes" stands for. */
  readonly yes?: string;
}
