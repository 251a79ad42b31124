import type { UsageMeter } from "./createUsageMeter.ts";

/** One meter that counts into two (an endpoint's and one provider's); its snapshot is the first's. */
export function teeMeter(first: UsageMeter, second: UsageMeter): UsageMeter {
  return {
    begin() {
      const endFirst = first.begin();
      const endSecond = second.begin();
      return () => {
        endFirst();
        endSecond();
      };
    },
    countRequest() {
      first.countRequest();
      second.countRequest();
    },
    addTokens(tokens) {
      first.addTokens(tokens);
      second.addTokens(tokens);
    },
    snapshot: () => first.snapshot(),
  };
}
