// Metering on the host: the price table, and a bottle's usage events turned into tokens and money.
export { DEFAULT_PRICES, PRICE_CLASSES, PRICES_AS_OF, costUsd, matchPrice, priceFor, type PriceRate, type PriceTable, type TokenCounts } from './prices.js';
export { RATE_WINDOW_MS, UsageAggregator, allTokens, parseUsageLine, sumRates, sumTotals, type UsageRecord, type UsageRate, type UsageReport, type UsageTotals } from './aggregate.js';
export { MAX_EVENTS_BYTES, launchPrices, readUsage, type ReadUsageOptions } from './read.js';
export { IncrementalUsage, rateOf, type IncrementalUsageOptions, type UsageMoment } from './incremental.js';
export {
  BUDGET_FILE, DEFAULT_WARN_AT, MAX_BUDGET_TOKENS, MAX_BUDGET_USD, budgetFileText, budgetState, budgetText, hasCap, parseBudgetFile,
  type Budget, type BudgetFileContent, type BudgetLevel, type BudgetState,
} from './budget.js';
