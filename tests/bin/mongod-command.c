/* mongod-command.c: runs one command (Extended JSON) through libmongoc and prints the reply.
   usage: mongod-command URI DB JSON   (e.g. mongod-command "$MNO_TEST_MONGO_URI" x '{"dropDatabase":1}')
   Exit 0 when the server answered ok, 1 when it answered an error (printed to stderr), 2 usage. */
#include <mongoc/mongoc.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    bson_error_t err;
    int rc = 2;
    if (argc != 4) {
        fprintf(stderr, "usage: mongod-command URI DB JSON\n");
        return 2;
    }
    mongoc_init();
    mongoc_client_t *client = NULL;
    bson_t *cmd = bson_new_from_json((const uint8_t *)argv[3], -1, &err);
    bson_t reply = BSON_INITIALIZER;
    if (!cmd) {
        fprintf(stderr, "mongod-command: invalid json: %s\n", err.message);
        goto out;
    }
    client = mongoc_client_new(argv[1]);
    if (!client) {
        fprintf(stderr, "mongod-command: invalid uri\n");
        goto out;
    }
    mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
    bson_destroy(&reply);
    if (mongoc_client_command_simple(client, argv[2], cmd, NULL, &reply, &err)) {
        rc = 0;
    } else {
        fprintf(stderr, "mongod-command: %s (domain %u, code %u)\n", err.message, err.domain, err.code);
        rc = 1;
    }
    char *j = bson_as_canonical_extended_json(&reply, NULL);
    if (j)
        printf("%s\n", j);
    bson_free(j);
out:
    bson_destroy(&reply);
    bson_destroy(cmd);
    if (client)
        mongoc_client_destroy(client);
    mongoc_cleanup();
    return rc;
}
