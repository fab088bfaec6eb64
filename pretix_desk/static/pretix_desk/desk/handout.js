/* Handing out an add-on or bundled product: the server says yes or no; offline, the
 * downloaded record does (its "redeem" refusal, the line item's state, this desk's queued
 * hand-outs), and the hand-out is queued for upload. */

import {isAuthProblem} from "./api.js";
import {answerRedeemOffline, markRedeemed, ownerOf} from "./offline.js";
import {fmt, newNonce} from "./util.js";

/** actions: the DeskActions (ask, findByCode, queued, feedback, ...); listId: the list the
 * attendee's card came from (with several lists, the one that answered the scan). */
export async function handOut(actions, code, attendee, lineItem, listId = null) {
    const {lists, ui, cards} = actions.desk;
    const list = lists.get(listId) || lists.current;
    const body = {access_code: code, line_item_id: lineItem.line_item_id, nonce: newNonce()};
    const startedAt = new Date().toISOString();
    try {
        const response = await actions.ask(() => lists.api(list.id).redeem(body));
        if (response) {
            const data = response.data || {};
            if (response.status === 201) {
                cards.markHandedOut(lineItem.line_item_id, (data.redemption || {}).datetime || startedAt);
                await actions.rememberAnswer(list.id, {code}, data);
                actions.feedback("ok");
            } else if (isAuthProblem(response.status)) {
                actions.noteAuth(response.status);
            } else if (data.reason === "already_redeemed") {
                cards.markHandedOut(lineItem.line_item_id, data.redeemed_at);
                ui.note(fmt(actions.T.handed_out_at, {time: ui.time(data.redeemed_at)}));
                actions.feedback("warn");
            } else {
                ui.note(ui.reasonText(data.reason || "error"));
                actions.feedback("error");
            }
            return;
        }
        if (!actions.desk.store) {
            ui.note(actions.T.no_connection);
            actions.feedback("error");
            return;
        }
        const {record} = await actions.findByCode(list.id, code);
        const answer = answerRedeemOffline({record, lineItemId: lineItem.line_item_id, queued: await actions.queued(list.id, record)});
        if (answer.status === "redeemed") {
            await actions.desk.queue.add({
                kind: "redeem", list: list.id, api: list.api, body: {...body, datetime: startedAt},
                owner: ownerOf(record), label: {name: attendee.name, product: lineItem.product && lineItem.product.name},
            });
            await actions.desk.store.putAttendee(markRedeemed(record, lineItem.line_item_id, startedAt));
            actions.onQueued();
            cards.markHandedOut(lineItem.line_item_id, startedAt);
            actions.feedback("ok");
        } else if (answer.status === "unverified") {
            ui.note(actions.T.cannot_verify + ": " + ui.unverifiedText(answer.reason));
            actions.feedback("error");
        } else {
            ui.note(answer.reason === "already_redeemed"
                ? fmt(actions.T.handed_out_at, {time: ui.time(answer.redeemed_at)})
                : ui.reasonText(answer.reason) + " (" + actions.T.answered_offline + ")");
            actions.feedback(answer.reason === "already_redeemed" ? "warn" : "error");
        }
    } catch (e) {
        actions.failed(e);
    }
}

