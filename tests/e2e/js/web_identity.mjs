// AssumeRoleWithWebIdentity with the AWS SDK for JavaScript v3, which sends it unsigned
// (the token is the proof), then calls made with the credentials it returns. Run by
// tests/e2e/test_js_sdk.py; exits non-zero naming the first call that failed.
//
// Environment: CHAMBERLAIN_ENDPOINT, CHAMBERLAIN_ROLE_ARN, CHAMBERLAIN_WEB_IDENTITY_TOKEN,
// CHAMBERLAIN_BAD_WEB_IDENTITY_TOKEN (one the issuer did not sign).

import { IAMClient, ListRolesCommand } from "@aws-sdk/client-iam";
import {
  AssumeRoleWithWebIdentityCommand,
  GetCallerIdentityCommand,
  STSClient,
} from "@aws-sdk/client-sts";

function fail(call, message) {
  console.error(`FAILED ${call}: ${message}`);
  process.exit(1);
}

const endpoint = process.env.CHAMBERLAIN_ENDPOINT;
const roleArn = process.env.CHAMBERLAIN_ROLE_ARN;
const token = process.env.CHAMBERLAIN_WEB_IDENTITY_TOKEN;
const badToken = process.env.CHAMBERLAIN_BAD_WEB_IDENTITY_TOKEN;
if (!endpoint || !roleArn || !token || !badToken) fail("environment", "a variable is missing");

// No credentials at all: the SDK must not need any for this call.
const sts = new STSClient({ endpoint, region: "eu-west-1", maxAttempts: 1 });
const assume = (WebIdentityToken) =>
  sts.send(new AssumeRoleWithWebIdentityCommand({
    RoleArn: roleArn, RoleSessionName: "js-web", WebIdentityToken, DurationSeconds: 900,
  }));

let out;
try {
  out = await assume(token);
} catch (error) {
  fail("AssumeRoleWithWebIdentity", `${error?.name}: ${error?.message}`);
}
const role = roleArn.split("/").pop();
if (!out.AssumedRoleUser?.Arn?.endsWith(`:assumed-role/${role}/js-web`)) {
  fail("AssumeRoleWithWebIdentity", `AssumedRoleUser ${JSON.stringify(out.AssumedRoleUser)}`);
}
if (!(out.Credentials?.Expiration instanceof Date) || !out.SubjectFromWebIdentityToken) {
  fail("AssumeRoleWithWebIdentity", JSON.stringify(out));
}
const credentials = {
  accessKeyId: out.Credentials.AccessKeyId,
  secretAccessKey: out.Credentials.SecretAccessKey,
  sessionToken: out.Credentials.SessionToken,
};
try {
  const me = await new STSClient({ endpoint, region: "eu-west-1", credentials, maxAttempts: 1 })
    .send(new GetCallerIdentityCommand({}));
  if (me.Arn !== out.AssumedRoleUser.Arn) fail("GetCallerIdentity (web identity)", me.Arn);
  const roles = await new IAMClient({ endpoint, region: "us-east-1", credentials, maxAttempts: 1 })
    .send(new ListRolesCommand({}));
  if (!roles.Roles.some((r) => r.Arn === roleArn)) fail("ListRoles (web identity)", "role missing");
} catch (error) {
  fail("calls with web identity credentials", `${error?.name}: ${error?.message}`);
}
try {
  await assume(badToken);
  fail("AssumeRoleWithWebIdentity (bad token)", "a token the issuer did not sign was accepted");
} catch (error) {
  // STS answers the code InvalidIdentityToken; the SDK names it by its modelled shape.
  if (error?.name !== "InvalidIdentityTokenException" || error?.$metadata?.httpStatusCode !== 400) {
    fail("AssumeRoleWithWebIdentity (bad token)",
      `${error?.name} (HTTP ${error?.$metadata?.httpStatusCode}): ${error?.message}`);
  }
}
console.log("ok: JS SDK web identity passed");
