import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from "@libp2p/gossipsub/score";
import { OFFERS_TOPIC, ORDERS_TOPIC } from "./constants.ts";

/**
 * Scores per market topic. An honest peer earns a little (at most +6 a topic, +10 in all); every
 * message our validators Reject costs its sender the square of its recent invalid count, so mistakes
 * now and then fade while a flood runs away: 4 invalid messages in a row put a peer below the gossip
 * threshold, 8 below the publish threshold, 11 below the graylist threshold, after which nothing it
 * sends is processed. A steady 1 invalid message a second settles at a count of 20 (−400).
 */
export const MARKET_TOPIC_SCORE_PARAMS: TopicScoreParams = {
  topicWeight: 1,
  // P1: +0.01 per second in our mesh, at most +1: a small credit for staying.
  timeInMeshWeight: 0.01,
  timeInMeshQuantum: 1_000,
  timeInMeshCap: 100,
  // P2: +1 per message the peer delivered to us first, decaying 10 % a second, at most +5.
  firstMessageDeliveriesWeight: 1,
  firstMessageDeliveriesDecay: 0.9,
  firstMessageDeliveriesCap: 5,
  // P3 and P3b off: the market topics are quiet (one offer per provider every 30 s, orders when
  // someone submits), so a mesh peer that forwards nothing for a while is not misbehaving, and a
  // required delivery rate would push honest peers out of the mesh.
  meshMessageDeliveriesWeight: 0,
  meshMessageDeliveriesDecay: 0.5,
  meshMessageDeliveriesCap: 100,
  meshMessageDeliveriesThreshold: 1,
  meshMessageDeliveriesWindow: 10,
  meshMessageDeliveriesActivation: 5_000,
  meshFailurePenaltyWeight: 0,
  meshFailurePenaltyDecay: 0.5,
  // P4: −(invalid messages)², the count decaying 5 % a second (a half-life of about 14 s).
  invalidMessageDeliveriesWeight: -1,
  invalidMessageDeliveriesDecay: 0.95,
};

export const MARKET_SCORE_THRESHOLDS: PeerScoreThresholds = {
  /** Below it we exchange no gossip (IHAVE/IWANT) with the peer. */
  gossipThreshold: -10,
  /** Below it our own messages are not sent to the peer. */
  publishThreshold: -50,
  /** Below it every RPC from the peer is ignored: its messages are neither processed nor forwarded. */
  graylistThreshold: -100,
  /**
   * Peer exchange is taken only from peers this good. Topic scores are capped at +10, so only the
   * bootstrap peers we were configured with (BOOTSTRAP_PEER_SCORE) reach it.
   */
  acceptPXThreshold: 20,
  /** A mesh whose median peer scores below this grafts better-scoring peers in. */
  opportunisticGraftThreshold: 3,
};

/** The application-specific score of the bootstrap peers this node was configured with. */
export const BOOTSTRAP_PEER_SCORE = 20;

/** gossipsub's own default IP-colocation weight and threshold, kept in production. */
const IP_COLOCATION_WEIGHT = -5;
const IP_COLOCATION_THRESHOLD = 10;

export type MarketScoreParamsOptions = {
  /** Peer ids (text) of the configured bootstrap peers. */
  bootstrapPeers: ReadonlySet<string>;
  /**
   * Every peer on 127.0.0.1 (tests, local demos): turn off only the IP-colocation penalty, which
   * would otherwise push all but 10 peers below zero.
   */
  localNetwork: boolean;
};

/** Gossipsub peer-score parameters of a gridspot node, every value spelled out. */
export function marketScoreParams(options: MarketScoreParamsOptions): PeerScoreParams {
  return {
    topics: { [OFFERS_TOPIC]: MARKET_TOPIC_SCORE_PARAMS, [ORDERS_TOPIC]: MARKET_TOPIC_SCORE_PARAMS },
    topicScoreCap: 10,
    appSpecificScore: (peer) => (options.bootstrapPeers.has(peer) ? BOOTSTRAP_PEER_SCORE : 0),
    appSpecificWeight: 1,
    IPColocationFactorWeight: options.localNetwork ? 0 : IP_COLOCATION_WEIGHT,
    IPColocationFactorThreshold: IP_COLOCATION_THRESHOLD,
    IPColocationFactorWhitelist: new Set(),
    // P7 (broken IWANT promises, GRAFT during backoff): gossipsub's defaults.
    behaviourPenaltyWeight: -10,
    behaviourPenaltyThreshold: 0,
    behaviourPenaltyDecay: 0.2,
    decayInterval: 1_000,
    decayToZero: 0.01,
    // A peer that disconnects and comes back within the hour keeps its (bad) score.
    retainScore: 3_600_000,
  };
}
