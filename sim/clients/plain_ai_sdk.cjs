#!/usr/bin/env node
// A Vercel AI SDK script as its docs write one: generateText over the
// OpenAI provider's chat model, maxRetries set; only the base URL and key
// are the simulator's.
//   NODE_PATH=path/to/node_modules node sim/clients/plain_ai_sdk.cjs http://127.0.0.1:8787/v1 2
const { generateText } = require("ai");
const { createOpenAI } = require("@ai-sdk/openai");

const openai = createOpenAI({ baseURL: process.argv[2], apiKey: "sk-not-checked" });

async function main() {
  const calls = Number(process.argv[3] ?? 1);
  for (let i = 0; i < calls; i++) {
    try {
      const { text } = await generateText({
        model: openai.chat("gpt-4o-mini"),
        prompt: "Say hi",
        maxRetries: 2,
      });
      console.log(text);
    } catch (error) {
      console.log(`failed: ${error.message}`);
    }
  }
}

main();
